package dev.moespec.engine.cuda;

import dev.moespec.api.config.ModelConfig;
import dev.moespec.api.proposer.DraftChunk;
import dev.moespec.api.proposer.DraftNetwork;
import dev.moespec.api.proposer.DraftNetworkKind;
import dev.moespec.api.proposer.DraftOutput;
import dev.moespec.api.tensor.DType;
import dev.moespec.api.tensor.Tensor;
import dev.moespec.cuda.Cublas;
import dev.moespec.cuda.CudaContext;
import dev.moespec.cuda.CudaEvent;
import dev.moespec.cuda.CudaGraph;
import dev.moespec.cuda.CudaStream;
import dev.moespec.cuda.DeviceBuffer;
import dev.moespec.cuda.LaunchLedger;
import dev.moespec.cuda.PinnedHostMemory;
import dev.moespec.engine.loader.Checkpoint;
import dev.moespec.engine.loader.MoeDecoderLayout;
import dev.moespec.engine.model.HostWeights;
import dev.moespec.engine.model.MoeKernelSource;
import dev.moespec.engine.model.MoeWeightsFactory;
import dev.moespec.engine.model.Ops;
import dev.moespec.engine.model.SequenceChunk;
import dev.moespec.moe.MoeKernel;
import dev.moespec.moe.MoeKernelUnavailableException;
import dev.moespec.moe.reference.CpuReferenceBackendProvider;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;

/**
 * The EAGLE head (FORMAT.md §5.1) and the MTP layer (§5.2) on the GPU, the CUDA twin of the CPU
 * {@code FeatureHeadNetwork}: entries {@code (token, feature)} become the layer input through {@code fc}
 * (EAGLE: {@code [embed | f]·fcᵀ}) or {@code eh_proj} (MTP: {@code [rms_enorm(embed) | rms_hnorm(f)]·eh_projᵀ}),
 * in fp32; then one decoder layer with our attention kernels over its own paged KV cache, a dense SwiGLU (EAGLE) or an
 * MoE block on the DRAFT role's kernels on device tensors (MTP: so {@code "moe_backend"} is what runs); the output norm
 * and the target's {@code lm_head}. Precision as {@link CudaMoeModel}: fp32 residual stream, BF16 GEMM inputs for the
 * projections, MLP and lm_head.
 *
 * <p>Two launch sequences compute the step. Up to {@link #FUSED_MAX_ROWS} rows (every drafting step; a short prefill)
 * take the fused kernels of {@code head_linear.cu}: each projection with the norm before it and the elementwise step
 * after it, seven launches for the EAGLE layer where cuBLAS needs fifteen. There the embedding half of {@code fc} /
 * {@code eh_proj} is a per-token table ({@link #gathersLinks}), so a drafting link, whose feature half the pass before
 * it projected, gathers its input and runs six. Longer prefills take cuBLAS GEMMs ({@code fc} / {@code eh_proj} as two
 * over the split weight) and the separate norm, RoPE and SwiGLU kernels.
 *
 * <p>Steps whose chunks all carry the same number of entries replay a CUDA graph per row count (as the target
 * runner does); every launch runs inside {@link LaunchLedger#scope}{@code ("draft")}. Not thread-safe.
 */
public final class CudaFeatureHead implements DraftNetwork {
    /** The role label this network's launches are counted under. */
    public static final String ROLE = "draft";

    private final DraftNetworkKind kind;
    private final Checkpoint head;
    private final MoeKernelSource moe; // MTP only
    private final int moeLayer;         // the MTP layer's index in the checkpoint's tensor names
    private final int h, vocab, nH, nKV, d, qkvWidth, inter, experts;
    private final float eps, scale;
    private final CudaContext ctx;
    private final CudaStream stream;
    /**
     * A fused round's forks onto {@link #stream} and joins back: the first step's feature projection beside the
     * target's logits, sibling drafting beside the last links.
     */
    private final CudaEvent featuresFork, featuresJoin, fork, join;
    /** Recorded by the target behind a greedy prefill the catch-up follows ({@link #forwardGreedyAfterPrefill}). */
    private final CudaEvent prefilled;
    private final Cublas blas;
    private final DecoderKernels k;
    private final DeviceArrays w;
    private final DeviceKvCache cache;
    private final Arena moeWeights = Arena.ofShared();
    private final long embed, lmHead, outNorm, combine, combineE, combineF, enorm, hnorm, inputNorm, postNorm, qkv, o,
            qNorm, kNorm, gateUp, down, router, invFreq;
    /** Whether the head's widths suit the fused kernels at all ({@link DecoderKernels#headLinearFits}). */
    private final boolean fusedShapes;
    /**
     * The embedding half of the input projection per token ({@code [vocab, h]} fp32: row t is e_t . w[:, :h]^T, e_t
     * RMSNormed by enorm for MTP), or 0. The fused kernels look that half up instead of projecting it, so a drafting
     * link needs no es_hl_combine: the previous pass's es_hl_lm_head projects the feature half beside the logits and
     * the link's es_hl_qkv_rope adds the two as it stages its rows ({@link DecoderKernels.LinkGather}). Kept while the
     * table is at most {@link #EMBED_PROJ_MAX_BYTES}.
     */
    private final long embedProj;
    /** Largest {@link #embedProj} table kept (64 Ki tokens at hidden 256). */
    static final long EMBED_PROJ_MAX_BYTES = 64L << 20;
    private final Map<Integer, CudaGraph> graphs = new HashMap<>();
    private final Map<ChainKey, CudaGraph> chains = new HashMap<>();
    private final int tableCap;
    private boolean useGraphs = true;
    private Buffers buf;

    /**
     * Uploads the head in {@code head} (which it then owns) with the target's shared tensors from {@code target}
     * (read during construction only).
     *
     * @param prefix the layer's tensor prefix ({@code layers.0.} for EAGLE, {@code model.layers.N.} for MTP)
     * @param moe    the draft role's MoE kernels (MTP), or null (EAGLE)
     */
    public CudaFeatureHead(DraftNetworkKind kind, Checkpoint head, Checkpoint target, String prefix, MoeKernelSource moe,
                           int ordinal, long kvCacheBytes) {
        if (kind == DraftNetworkKind.DRAFT_MODEL) {
            throw new IllegalArgumentException("a draft model runs as a CudaMoeModel, not as a feature head");
        }
        if (kind == DraftNetworkKind.MTP) Objects.requireNonNull(moe, "the MTP layer needs the draft role's MoE kernels");
        this.kind = kind;
        this.head = head;
        this.moe = moe;
        ModelConfig t = target.config(), c = head.config();
        h = t.hiddenSize();
        vocab = t.vocabSize();
        nH = c.numAttentionHeads();
        nKV = c.numKeyValueHeads();
        d = c.headDim();
        qkvWidth = (nH + 2 * nKV) * d;
        eps = (float) c.rmsNormEps();
        scale = (float) (1.0 / Math.sqrt(d));
        inter = kind == DraftNetworkKind.EAGLE ? c.intermediateSize() : 0;
        experts = kind == DraftNetworkKind.MTP ? c.numExperts() : 0;
        moeLayer = kind == DraftNetworkKind.MTP ? Integer.parseInt(prefix.split("\\.")[2]) : -1;
        DecoderKernels.requireAttentionShape(d, nH, nKV, kind + " head " + c.configFile());
        ctx = CudaContext.open(ordinal);
        CudaStream s = null;
        Cublas b = null;
        DeviceArrays dw = null;
        DeviceKvCache kv = null;
        try {
            s = CudaStream.create(ctx);
            b = Cublas.create(ctx, s);
            k = DecoderKernels.load(ctx);
            dw = new DeviceArrays(ctx);
            embed = dw.f32(HostWeights.vector(target, "model.embed_tokens.weight"));
            lmHead = dw.bf16(HostWeights.vector(target, "lm_head.weight"));
            float[] combined;
            if (kind == DraftNetworkKind.EAGLE) {
                outNorm = dw.f32(HostWeights.vector(target, "model.norm.weight"));
                combined = HostWeights.matrix(head, "fc.weight");
                enorm = hnorm = 0;
                gateUp = dw.bf16(DeviceArrays.concat(HostWeights.matrix(head, prefix + "mlp.gate_proj.weight"),
                        HostWeights.matrix(head, prefix + "mlp.up_proj.weight")));
                down = dw.bf16(HostWeights.matrix(head, prefix + "mlp.down_proj.weight"));
                router = 0;
            } else {
                outNorm = dw.f32(HostWeights.vector(head, prefix + "shared_head.norm.weight"));
                combined = HostWeights.matrix(head, prefix + "eh_proj.weight");
                enorm = dw.f32(HostWeights.vector(head, prefix + "enorm.weight"));
                hnorm = dw.f32(HostWeights.vector(head, prefix + "hnorm.weight"));
                gateUp = down = 0;
                router = dw.f32(HostWeights.matrix(head, prefix + "mlp.gate.weight"));
            }
            // [h, 2h] whole for the fused kernel; for cuBLAS split by columns (the embedding half and the feature half)
            combine = dw.f32(combined);
            combineE = dw.f32(DeviceArrays.columns(combined, h, 2 * h, 0, h));
            combineF = dw.f32(DeviceArrays.columns(combined, h, 2 * h, h, h));
            inputNorm = dw.f32(HostWeights.vector(head, prefix + "input_layernorm.weight"));
            postNorm = dw.f32(HostWeights.vector(head, prefix + "post_attention_layernorm.weight"));
            qkv = dw.bf16(DeviceArrays.concat(HostWeights.matrix(head, prefix + "self_attn.q_proj.weight"),
                    HostWeights.matrix(head, prefix + "self_attn.k_proj.weight"),
                    HostWeights.matrix(head, prefix + "self_attn.v_proj.weight")));
            o = dw.bf16(HostWeights.matrix(head, prefix + "self_attn.o_proj.weight"));
            boolean qk = head.has(prefix + "self_attn.q_norm.weight");
            qNorm = qk ? dw.f32(HostWeights.vector(head, prefix + "self_attn.q_norm.weight")) : 0;
            kNorm = qk ? dw.f32(HostWeights.vector(head, prefix + "self_attn.k_norm.weight")) : 0;
            invFreq = dw.f32(Ops.invFreq(d, c.ropeTheta()));
            kv = new DeviceKvCache(ctx, 1, nKV * d, kvCacheBytes);
        } catch (RuntimeException e) {
            if (kv != null) kv.close();
            if (dw != null) dw.close();
            if (b != null) b.close();
            ctx.close();
            moeWeights.close();
            throw e;
        }
        stream = s;
        prefilled = CudaEvent.createUntimed(ctx);
        featuresFork = CudaEvent.createUntimed(ctx);
        featuresJoin = CudaEvent.createUntimed(ctx);
        fork = CudaEvent.createUntimed(ctx);
        join = CudaEvent.createUntimed(ctx);
        blas = b;
        w = dw;
        cache = kv;
        tableCap = kv.blocks() + 1;
        fusedShapes = DecoderKernels.headLinearFits(h, d, nH, inter);
        embedProj = fusedShapes && 4L * vocab * h <= EMBED_PROJ_MAX_BYTES ? embeddingProjections() : 0;
        buf = new Buffers(CudaMoeModel.GRAPH_MAX_ROWS);
    }

    /**
     * {@link #embedProj}, computed by the fused input projection itself over every token with zero features (their
     * half adds nothing: hnorm of a zero row is zero).
     */
    private long embeddingProjections() {
        int[] ids = new int[vocab];
        for (int t = 0; t < vocab; t++) ids[t] = t;
        long table = w.zeros(4L * vocab * h);
        k.hlCombine(stream.handle(), vocab, w.i32(ids), 0, 0, embed, 0, w.zeros(4L * h), w.i32(new int[vocab]), enorm,
                hnorm, eps, h, combine, table, 0);
        stream.synchronize();
        return table;
    }

    /** Turns step graphs on (default) or off; off drops the captured ones. */
    public void useGraphs(boolean on) {
        if (!on) dropGraphs();
        useGraphs = on;
    }

    @Override
    public DraftNetworkKind kind() {
        return kind;
    }

    @Override
    public int vocabSize() {
        return vocab;
    }

    @Override
    public int hiddenSize() {
        return h;
    }

    @Override
    public int open(int maxEntries) {
        return cache.open(maxEntries);
    }

    @Override
    public void release(int sequence) {
        cache.release(sequence);
    }

    @Override
    public int length(int sequence) {
        return cache.length(sequence);
    }

    @Override
    public void truncate(int sequence, int length) {
        cache.truncate(sequence, length);
    }

    /**
     * Whether a drafting chain's links gather their input (the embedding half looked up, the feature half projected by
     * the pass before) instead of projecting it with es_hl_combine: the fused kernels take the head and its
     * embedding-projection table fits ({@link #EMBED_PROJ_MAX_BYTES}).
     */
    public boolean gathersLinks() {
        return embedProj != 0;
    }

    @Override
    public String moeBackend() {
        return moe == null ? "none (dense head)" : moe.describe();
    }

    @Override
    public DraftOutput forward(List<DraftChunk> chunks) {
        try (LaunchLedger.Scope scope = LaunchLedger.scope(ROLE)) {
            return forwardInScope(chunks);
        }
    }

    private DraftOutput forwardInScope(List<DraftChunk> chunks) {
        int m = validate(chunks, 0, true, false);
        int graphRows = graphRows(chunks);
        boolean graph = graphRows > 0;
        int rows = graph ? graphRows : m;
        int nLogits = graph ? rows : chunks.size();
        ensureRows(rows);
        upload(chunks, rows, graph, null);
        run(rows, nLogits, graph);
        buf.logits.copyToAsync(buf.hostLogits.asSlice(0, 4L * nLogits * vocab), stream);
        buf.xBuf.copyToAsync(buf.hostX.asSlice(0, 4L * m * h), stream);
        stream.synchronize();
        float[][] logits = new float[chunks.size()][], hidden = new float[chunks.size()][];
        int row = 0;
        for (int c = 0; c < chunks.size(); c++) {
            DraftChunk chunk = chunks.get(c);
            int n = chunk.tokens().length, last = row + n - 1;
            logits[c] = new float[vocab];
            MemorySegment.copy(buf.hostLogits, ValueLayout.JAVA_FLOAT, 4L * (graph ? last : c) * vocab, logits[c], 0, vocab);
            hidden[c] = new float[h];
            MemorySegment.copy(buf.hostX, ValueLayout.JAVA_FLOAT, 4L * last * h, hidden[c], 0, h);
            cache.sequence(chunk.sequence()).length += n;
            row += n;
        }
        return new DraftOutput(logits, hidden);
    }

    /**
     * Greedy drafting with the chain on the device: the first step as {@link #forward}; then each link takes its
     * entry's token from the previous logits' argmax (a key the previous {@code lm_head} kernel left on the device) and
     * its feature from the previous pre-norm output, so nothing comes back until the drafts, after one synchronisation.
     * When the first step's chunks fit a graph, the first step and the links replay as one CUDA graph per (rows, chunk
     * bucket, steps), the drafts' read-back queued behind it; otherwise the first step runs eagerly and the rest as a
     * graph. One step is a chain without links: the argmax is taken on the device and only the tokens come back. Falls
     * back to the step-by-step default when graphs are off, for more chunks or steps than a chain holds, or for a head
     * the fused kernels do not take.
     */
    @Override
    public int[][] forwardGreedy(List<DraftChunk> chunks, int steps) {
        int chainRows = CudaMoeModel.graphRows(useGraphs, chunks.size(), c -> 1);
        if (steps < 1 || steps > MAX_CHAIN || chainRows == 0 || !fused(chainRows)) {
            return DraftNetwork.super.forwardGreedy(chunks, steps);
        }
        try (LaunchLedger.Scope scope = LaunchLedger.scope(ROLE)) {
            return chainInScope(chunks, steps, chainRows, null, null, null);
        }
    }

    /**
     * {@link #forwardGreedy} over entries whose features are rows of {@code target}'s last step, still on the device
     * ({@link CudaMoeModel#stepLogitsOnly}): chunk c's entry i takes the step's feature row {@code featureRows[c] + i};
     * the chunks carry tokens only. The catch-up after a prefill then stages no features through the host, and its
     * first step replays a graph per {@link #CATCH_UP_ROWS} rows like the links.
     *
     * @throws IllegalArgumentException when the entries do not fit ({@link #takesTargetFeatures}) or name rows the
     *                                  target's step did not have
     */
    public int[][] forwardGreedyOnTarget(CudaMoeModel target, List<DraftChunk> chunks, int[] featureRows, int steps) {
        long features = target.deviceFeatures(targetRowsRead(chunks, featureRows, steps));
        try (LaunchLedger.Scope scope = LaunchLedger.scope(ROLE)) {
            return chainInScope(chunks, steps, CudaMoeModel.graphRows(true, chunks.size(), c -> 1), featureRows,
                    new TargetRows(features, 0), null);
        }
    }

    /** What {@link #forwardGreedyAfterPrefill} found: each prompt's first token and the head's first drafts after it. */
    public record PrefillDrafts(int[] firstTokens, int[][] drafts) {}

    /**
     * The target's greedy prefill of {@code prefill} and the catch-up on it queued back to back, with one
     * synchronisation for both: what {@link CudaMoeModel#stepLogitsOnly}, the host's argmax of each prompt's last
     * logits and {@link #forwardGreedyOnTarget} with that token appended to each chunk give, without the round trip
     * between them. Chunk c holds prompt c's entries (its tokens 1.. on feature rows from {@code featureRows[c]}),
     * the last one the first token's: its token, whatever the chunk says, is the prefill's argmax, filled in on the
     * device.
     *
     * @throws IllegalArgumentException as {@link #forwardGreedyOnTarget}, or when a prefill chunk asks for all its logits
     */
    public PrefillDrafts forwardGreedyAfterPrefill(CudaMoeModel target, List<SequenceChunk> prefill,
                                                  List<DraftChunk> chunks, int[] featureRows, int steps) {
        if (prefill.size() != chunks.size()) {
            throw new IllegalArgumentException(prefill.size() + " prompts and " + chunks.size() + " head chunks");
        }
        int[] sampledRows = target.queueGreedyPrefill(prefill, prefilled);
        // each chunk's last entry names the prefill's argmax it takes: -1 - (its row among the sampled tokens)
        List<DraftChunk> withFirst = new java.util.ArrayList<>(chunks.size());
        for (int c = 0; c < chunks.size(); c++) {
            DraftChunk chunk = chunks.get(c);
            int[] tokens = chunk.tokens().clone();
            tokens[tokens.length - 1] = -1 - sampledRows[c];
            withFirst.add(new DraftChunk(chunk.sequence(), tokens, null));
        }
        long features = target.deviceFeatures(targetRowsRead(withFirst, featureRows, steps));
        int[][] drafts;
        try (LaunchLedger.Scope scope = LaunchLedger.scope(ROLE)) {
            drafts = chainInScope(withFirst, steps, CudaMoeModel.graphRows(true, chunks.size(), c -> 1), featureRows,
                    new TargetRows(features, target.sampledTokens()), prefilled);
        }
        int[] first = new int[chunks.size()];
        for (int c = 0; c < first.length; c++) first[c] = target.prefillToken(sampledRows[c]);
        return new PrefillDrafts(first, drafts);
    }

    /**
     * The target's rows a catch-up of {@code chunks} on its features reads (feature rows {@code featureRows[c]..}),
     * after checking that it fits ({@link #takesTargetFeatures}).
     */
    private int targetRowsRead(List<DraftChunk> chunks, int[] featureRows, int steps) {
        if (featureRows.length != chunks.size()) {
            throw new IllegalArgumentException(chunks.size() + " chunks and " + featureRows.length + " feature rows");
        }
        int entries = 0, needed = 0; // entries in all; the target's rows they read
        for (int c = 0; c < chunks.size(); c++) {
            int n = chunks.get(c).tokens().length;
            entries += n;
            needed = Math.max(needed, featureRows[c] + n);
        }
        if (!takesTargetFeatures(entries, chunks.size(), steps)) {
            throw new IllegalArgumentException(chunks.size() + " chunks of " + entries + " entries for chains of " + steps
                    + " do not fit drafting on the target's features; check takesTargetFeatures, or pass the features in"
                    + " the chunks to forwardGreedy");
        }
        return needed;
    }

    /** Rows a catch-up's first step on the target's features is padded to: one graph per multiple. */
    static final int CATCH_UP_ROWS = 32;

    /**
     * Whether {@link #forwardGreedyOnTarget} takes {@code chunks} chunks of {@code entries} entries in all and chains
     * of {@code steps}: graphs on and every entry within the fused kernels' rows.
     */
    public boolean takesTargetFeatures(int entries, int chunks, int steps) {
        return useGraphs && steps >= 1 && steps <= MAX_CHAIN && CudaMoeModel.graphRows(true, chunks, c -> 1) > 0
                && fused(catchUpRows(entries));
    }

    private static int catchUpRows(int entries) {
        return (entries + CATCH_UP_ROWS - 1) / CATCH_UP_ROWS * CATCH_UP_ROWS;
    }

    /** Most steps one device chain takes (its metadata is sized for this many). */
    static final int MAX_CHAIN = 16;

    /**
     * The key slot of a fused round's first step: the argmax key of each of its rows, for es_spec_accept. It follows
     * a tree round's slots: the drafts, the verdict, the siblings ({@link Buffers#packedSlot}).
     */
    private static final int ROW_KEYS = 2 * MAX_CHAIN + 1;

    /**
     * The most rows a chain has (the largest graph bucket): the length of each block of the chain's ints and of each
     * key slot before {@link #ROW_KEYS}.
     */
    private static final int CHAIN_ROWS = CudaMoeModel.BUCKETS[CudaMoeModel.BUCKETS.length - 1];

    /**
     * Most rows a step runs through the fused kernels ({@code head_linear.cu}); longer prefills take cuBLAS. 128 takes
     * a demo prompt's catch-up (127 entries) in seven launches instead of the cuBLAS sequence's fifteen.
     */
    static final int FUSED_MAX_ROWS = 128;

    private boolean fused(int rows) {
        return fusedShapes && rows <= FUSED_MAX_ROWS;
    }

    /**
     * A chain's launch and read-back. Features come with the chunks ({@code featureRows} null) or are the target's
     * rows that {@code featureRows} names ({@code target}); then the first step always replays a graph, its rows padded
     * to a multiple of {@link #CATCH_UP_ROWS}, and waits for {@code ready} (or null) first.
     */
    private int[][] chainInScope(List<DraftChunk> chunks, int steps, int chainRows, int[] featureRows, TargetRows target,
                                 CudaEvent ready) {
        int m = validate(chunks, steps - 1, featureRows == null, target != null && target.sampled() != 0);
        int n = chunks.size();
        int graphRows = featureRows == null ? graphRows(chunks) : catchUpRows(m);
        boolean graph = graphRows > 0;
        int rows = graph ? graphRows : m;
        ensureRows(Math.max(rows, chainRows));
        int[] tableOffsets = upload(chunks, rows, graph, featureRows);
        // the chain's inputs: the first step's logit and output rows per chunk; each link's positions and table rows
        Buffers b = buf;
        MemorySegment cm = b.hostChain;
        int row = 0;
        for (int c = 0; c < chainRows; c++) {
            boolean real = c < n;  // padding rows draft from row 0 into position 0 of block 0, which no sequence owns
            int entries = real ? chunks.get(c).tokens().length : 0, last = row + entries - 1;
            int length = real ? cache.length(chunks.get(c).sequence()) + entries : 0;
            cm.setAtIndex(ValueLayout.JAVA_INT, b.chainFirstLogitRow(c), real ? (graph ? last : c) : 0);
            cm.setAtIndex(ValueLayout.JAVA_INT, b.chainFirstXRow(c), real ? last : 0);
            for (int j = 1; j < steps; j++) {
                cm.setAtIndex(ValueLayout.JAVA_INT, b.chainPos(j, c), real ? length + j - 1 : 0);
                cm.setAtIndex(ValueLayout.JAVA_INT, b.chainRowTable(j, c), real ? tableOffsets[c] : 0);
            }
            row += entries;
        }
        b.chain.copyFromAsync(cm.asSlice(0, 4L * b.chainInts(steps)), stream);
        boolean eagerProjected = !graph && projects(rows, steps - 1);
        if (ready != null) stream.waitFor(ready);
        if (!graph) forward(rows, n, null, eagerProjected);
        runChain(graph ? rows : 0, target, chainRows, steps, eagerProjected);
        readKeys(steps, stream);
        stream.synchronize();
        for (DraftChunk chunk : chunks) cache.sequence(chunk.sequence()).length += chunk.tokens().length + steps - 1;
        return b.drafts(n, steps);
    }

    /**
     * Greedy drafting fused behind the target's verification of {@code chunks}, queued on the target's stream inside the
     * pass's CUDA graph, with one synchronisation for both. Chunk c ({@code t = k + 1} tokens: the last committed token,
     * then k drafts) belongs to head sequence {@code sequences[c]}, which holds the entries before that token (as many
     * as the target sequence holds tokens: an entry sits at its token's position). Whatever the target accepts, the
     * entries it makes real are rows 0..a of the chunk: entry {@code (x_{p+1}, h_p)} takes the target's argmax at row
     * p as its token (an accepted draft equals it, the bonus is it) and the row's feature. So the head's first step
     * runs over all t rows of every chunk straight from the pass's device buffers; {@code es_spec_accept} then finds a
     * (the drafts accepted) and the bonus, takes the first draft from row a's logits and moves the chain's start to
     * row a; the links follow as in {@link #forwardGreedy}. Rows past a are entries the caller truncates away with the
     * links' ({@link #truncate} to {@code n + a}); the next round writes its entries over them.
     *
     * <p>A chunk may be a draft tree ({@link CudaMoeModel#queueVerification}): after its k chain drafts come s <= k
     * siblings, sibling j the head's second choice where it drafted chain draft j. When the target rejects
     * chain draft a + 1 but its argmax there is sibling a + 1, that sibling is accepted as well: {@code es_spec_accept}
     * moves its k and v (the target's and the head's) from its spare slot to its position and the chain starts from its
     * row. Such a round also drafts the next round's siblings ({@code es_draft_siblings}: the second-best token of each
     * link's logits, each link leaving its logits in rows of their own).
     *
     * <p>Block tables are uploaded when the batch changes (they do not while a sequence lives); positions come from the
     * pass. Each sequence's length grows by {@code t + steps - 1}, as a chain's would.
     *
     * @param steps    drafts per sequence for the next round (k)
     * @param siblings the next round's siblings to draft (0..steps): at depths 1..siblings. Whether the chunks carry
     *                 siblings is their length: k + 1 tokens a chain, k + 1 + siblings a tree (the first round's
     *                 drafts come without siblings)
     * @throws IllegalArgumentException when the batch or the chain does not fit the fused kernels and graphs (check
     *                                  {@link #fusesAfter} first), the chunks hold neither k + 1 nor k + 1 + siblings
     *                                  tokens, or a sequence has no room
     */
    public FusedRound draftAfter(CudaMoeModel target, List<SequenceChunk> chunks, int[] sequences, int steps,
                                 int siblings) {
        int n = sequences.length, t = chunks.getFirst().tokens().length, rows = CudaMoeModel.graphRows(true, n, c -> t);
        int sib = t - 1 - steps; // siblings the chunks carry
        if (n != chunks.size() || !fusesAfter(n, t, steps)) {
            throw new IllegalArgumentException("drafting fused after a pass of " + chunks.size() + " x " + t + " tokens for "
                    + n + " head sequences and " + steps + " steps does not fit the fused kernels and graphs; draft with"
                    + " forwardGreedy");
        }
        if (siblings < 0 || siblings > steps || sib != 0 && sib != siblings) {
            throw new IllegalArgumentException("a fused round of " + steps + " drafts and " + siblings + " siblings takes"
                    + " chunks of " + (steps + 1) + " tokens (a chain) or " + (steps + 1 + siblings) + " (a chain and its"
                    + " siblings); got " + t);
        }
        int chainRows = CudaMoeModel.graphRows(true, n, c -> 1);
        for (int sequence : sequences) requireRoom(sequence, t + steps - 1);
        // a tree round's links leave their logits after the first step's rows, for es_draft_siblings
        ensureRows(siblings > 0 ? rows + (steps - 1) * chainRows : rows);
        Buffers b = buf;
        CudaStream on = target.stream();
        FusedLayout layout = lastLayout;
        if (layout == null || !layout.holds(sequences, t, steps, siblings, b)) {
            stageTables(sequences, rows, chainRows, t, steps, on);
            // one follower per layout, its graph key built once: a round then allocates next to nothing here
            layout = lastLayout = new FusedLayout(sequences.clone(), t, steps, siblings, b,
                    follower(List.of(this, b, n, t, steps, siblings), rows, chainRows, steps, siblings));
        }
        target.queueVerification(chunks, sib, layout.follower());
        readKeys(steps + 1 + siblings, on);
        on.synchronize();
        int[] accepted = new int[n], bonus = new int[n];
        boolean[] siblingAccepted = new boolean[n];
        for (int c = 0; c < n; c++) {
            int verdict = b.hostPacked.getAtIndex(ValueLayout.JAVA_INT, 2L * b.packedSlot(steps, c));
            accepted[c] = verdict & ~DecoderKernels.SIBLING_ACCEPTED;
            siblingAccepted[c] = (verdict & DecoderKernels.SIBLING_ACCEPTED) != 0;
            bonus[c] = b.hostPacked.getAtIndex(ValueLayout.JAVA_INT, 2L * b.packedSlot(steps, c) + 1);
            cache.sequence(sequences[c]).length += t + steps - 1;
        }
        return new FusedRound(accepted, siblingAccepted, bonus, b.drafts(n, steps),
                siblings > 0 ? b.drafts(n, siblings, steps + 1) : null);
    }

    /**
     * Whether {@link #draftAfter} takes a pass of {@code chunks} chunks of {@code t} tokens and chains of
     * {@code steps}: graphs on, a pass of at most {@link #FUSED_MAX_ROWS} rows, and a head the fused kernels take.
     */
    public boolean fusesAfter(int chunks, int t, int steps) {
        int chainRows = CudaMoeModel.graphRows(useGraphs, chunks, c -> 1);
        int rows = CudaMoeModel.graphRows(useGraphs, chunks, c -> t);
        return steps >= 1 && steps <= MAX_CHAIN && chainRows > 0 && rows > 0 && fused(rows);
    }

    /** What queues a fused round behind the target's pass ({@link #queueRound}), its graphs kept under {@code key}. */
    private CudaMoeModel.PassFollower follower(Object key, int rows, int chainRows, int steps, int siblings) {
        return new CudaMoeModel.PassFollower() {
            @Override
            public Object graphKey() {
                return key;
            }

            @Override
            public void queue(QueuedPass pass) {
                if (pass.rows() < rows) throw new IllegalStateException("a pass of " + pass.rows() + " rows for " + rows);
                try (LaunchLedger.Scope scope = LaunchLedger.scope(ROLE)) {
                    queueRound(pass, rows, chainRows, steps, siblings);
                }
            }

            @Override
            public void queueOnFeatures(QueuedPass pass) {
                if (embedProj == 0) return;
                // the first step's feature half, projected beside the target's final norm, logits and argmax
                try (LaunchLedger.Scope scope = LaunchLedger.scope(ROLE)) {
                    featuresFork.record(pass.stream());
                    stream.waitFor(featuresFork);
                    k.hlProject(stream.handle(), pass.features(), eps, h, projection(rows));
                    featuresJoin.record(stream);
                }
            }
        };
    }

    /** The batch the uploaded fused-round tables are for, and the follower that queues its rounds. */
    private record FusedLayout(int[] sequences, int t, int steps, int siblings, Buffers buffers,
                               CudaMoeModel.PassFollower follower) {
        boolean holds(int[] sequences, int t, int steps, int siblings, Buffers buffers) {
            return java.util.Arrays.equals(this.sequences, sequences) && this.t == t && this.steps == steps
                    && this.siblings == siblings && this.buffers == buffers;
        }
    }

    private FusedLayout lastLayout;

    /**
     * Uploads a fused round's block tables on {@code on}: each row's table start (chunk c's rows c*t..; padding rows
     * block 0, which no sequence owns), every row's logits, and each link's table start per chain row.
     */
    private void stageTables(int[] sequences, int rows, int chainRows, int t, int steps, CudaStream on) {
        Buffers b = buf;
        MemorySegment meta = b.hostMeta, cm = b.hostChain;
        int cap = b.cap;
        long table = 2L * cap, lrows = 3L * cap, tables = 5L * cap;
        int tableUsed = 1;
        meta.setAtIndex(ValueLayout.JAVA_INT, tables, 0);
        for (int c = 0; c < chainRows; c++) {
            int tableOffset = 0;
            if (c < sequences.length) {
                tableOffset = tableUsed;
                for (int blk : cache.sequence(sequences[c]).blocks) meta.setAtIndex(ValueLayout.JAVA_INT, tables + tableUsed++, blk);
            }
            for (int i = 0; i < t; i++) meta.setAtIndex(ValueLayout.JAVA_INT, table + (long) c * t + i, tableOffset);
            for (int j = 1; j < steps; j++) cm.setAtIndex(ValueLayout.JAVA_INT, b.chainRowTable(j, c), tableOffset);
        }
        for (int i = 0; i < rows; i++) meta.setAtIndex(ValueLayout.JAVA_INT, lrows + i, i);
        b.meta.copyFromAsync(meta.asSlice(0, 4L * (5L * cap + tableUsed)), on);
        b.chain.copyFromAsync(cm.asSlice(0, 4L * b.chainInts(steps)), on);
    }

    /**
     * Queues a fused round behind {@code pass} on its stream: the first step over its rows, the verdict with the first
     * draft, and the links ({@link #draftAfter} reads the drafts' keys back with the verdict, in the keys' slot after
     * the last).
     */
    private void queueRound(QueuedPass pass, int rows, int chainRows, int steps, int siblings) {
        Buffers b = buf;
        CudaStream on = pass.stream();
        boolean projected = projects(rows, steps - 1);
        Inputs first = new Inputs(pass.sampled(), 0, pass.positions(), pass.rowBack(), b.rowTable(), b.logitRows(),
                b.tables(), pass.features(), 0, b.x, b.logits.address(), b.packed(ROW_KEYS));
        if (embedProj != 0) { // gathered: its feature half was projected beside the logits (queueOnFeatures)
            on.waitFor(featuresJoin);
            first = first.gathering(new DecoderKernels.LinkGather(pass.sampled(), 0, embedProj, b.projected, 0,
                    b.packed(ROW_KEYS)));
        }
        fusedForward(rows, rows, projected ? first.projecting(projection(rows)) : first, on);
        k.specAccept(on.handle(), chainRows, pass.tokens(), pass.sampled(), pass.positions(), pass.tokensPerChunk(),
                pass.siblings(), pass.chunks(), b.packed(ROW_KEYS), b.chain.address(), CHAIN_ROWS, steps, b.packed(steps),
                b.packed(0), pass.cache(), new QueuedPass.KvSlots(cache.keys(0), cache.values(0), 0, 1, b.rowTable(),
                        b.tables()), nKV * d);
        if (siblings == 0) {
            links(chainRows, 1, steps, steps, on, -1, projected);
            return;
        }
        // the siblings read the logits up to link siblings - 1; with fewer siblings than drafts they are drafted on a
        // branch of the graph beside the links after that one, off the round's critical path
        links(chainRows, 1, siblings, steps, on, rows, projected);
        if (siblings == steps) {
            draftSiblings(on, chainRows, siblings, rows, steps);
            return;
        }
        fork.record(on);
        stream.waitFor(fork);
        draftSiblings(stream, chainRows, siblings, rows, steps);
        join.record(stream);
        links(chainRows, siblings, steps, steps, on, rows, projected);
        on.waitFor(join);
    }

    /** The next round's siblings on {@code s}: their keys in the slots after the verdict. */
    private void draftSiblings(CudaStream s, int chainRows, int siblings, int rows, int steps) {
        Buffers b = buf;
        k.draftSiblings(s.handle(), chainRows, siblings, b.logits.address(), vocab, b.chain.address(), CHAIN_ROWS, rows,
                b.packed(steps + 1), CHAIN_ROWS);
    }

    /**
     * A chain graph's shape: its first step's rows (0: run by the caller) and where that step's features are (null: the
     * uploaded ones, else the target's rows), the chain rows and the steps, and whether the first step projected its
     * features for the first link ({@link #projects}).
     */
    private record ChainKey(int firstRows, TargetRows target, int chainRows, int steps, boolean firstProjected) {}

    /**
     * Queues the first step when {@code firstRows > 0} (a graph-shaped one, features as
     * {@link #forward(int, int, TargetRows, boolean)}; otherwise the caller ran it, projecting its features when
     * {@code eagerProjected}) and the chain's links: eagerly the first time for a shape, then as its graph.
     */
    private void runChain(int firstRows, TargetRows target, int chainRows, int steps, boolean eagerProjected) {
        boolean projected = firstRows > 0 ? projects(firstRows, steps - 1) : eagerProjected;
        replayOrCapture(chains, new ChainKey(firstRows, target, chainRows, steps, projected), () -> {
            if (firstRows > 0) forward(firstRows, firstRows, target, projected);
            chain(chainRows, steps, projected);
        }, "drafting chain failed, drafting step by step");
    }

    /**
     * Replays {@code cache}'s graph for {@code key}; the first time, runs {@code work} eagerly (kernels are created and
     * MTP MoE weights uploaded on first use, which capture forbids) and captures it. When capture fails, the eager run's
     * results stand and graphs are off from then on (later drafting goes step by step), said once with {@code what}.
     */
    private <K> void replayOrCapture(Map<K, CudaGraph> cache, K key, Runnable work, String what) {
        CudaGraph g = cache.get(key);
        if (g != null) {
            g.launch(stream);
            return;
        }
        work.run();
        try {
            cache.put(key, CudaGraph.capture(stream, work));
        } catch (RuntimeException e) {
            useGraphs = false;
            System.err.println("moespec: CUDA graph capture of the " + kind + " " + what + ": " + e.getMessage());
        }
    }

    /**
     * The links after the first step, over all {@code chainRows} rows, padding included, so that the graph does not
     * depend on how many are real: link j reads its tokens from the argmax keys of link j - 1 and its features from
     * link j - 1's output rows (for link 1, the first step's rows the chain metadata names), writes its output into
     * the other of two row buffers and leaves its own argmax keys. {@code firstProjected}: the first step left its
     * features projected ({@link #projects}).
     */
    private void chain(int chainRows, int steps, boolean firstProjected) {
        Buffers b = buf;
        k.draftFirst(stream.handle(), chainRows, b.logits.address(), vocab, b.chain.address() + 4L * b.chainFirstLogitRow(0),
                b.packed(0));
        links(chainRows, 1, steps, steps, stream, -1, firstProjected);
    }

    /**
     * Queues the read-back of key slots 0..slots-1 (a chain's drafts, a fused round's verdict after them) behind the
     * graph that wrote them: a copy queued after the graph's launch came back ~2.5 µs sooner on the H100 than the same
     * copy captured as the graph's last node.
     */
    private void readKeys(int slots, CudaStream on) {
        buf.packedBuf.copyToAsync(buf.hostPacked.asSlice(0, 8L * buf.packedSlot(slots, 0)), on);
    }

    /**
     * The chain's links {@code from..to-1} (of 1..steps-1, after its first draft's keys), on {@code on}. Each link's
     * logits go to rows 0.. of the logits buffer, or with {@code linkRows} >= 0 link j's to rows
     * {@code linkRows + (j - 1) * chainRows ..}. With {@link #embedProj} a link gathers its input from the feature
     * projection the pass before it left (link 1: when the first step left one, {@code firstProjected}) and leaves one
     * for the link after it.
     */
    private void links(int chainRows, int from, int to, int steps, CudaStream on, int linkRows, boolean firstProjected) {
        Buffers b = buf;
        long ints = b.chain.address();
        for (int j = from; j < to; j++) {
            long xPrev = j % 2 == 1 ? b.x : b.x2, xOut = j % 2 == 1 ? b.x2 : b.x;
            long logits = b.logits.address() + (linkRows < 0 ? 0 : 4L * (linkRows + (long) (j - 1) * chainRows) * vocab);
            long featRows = j == 1 ? ints + 4L * b.chainFirstXRow(0) : 0;
            Inputs in = new Inputs(0, b.packed(j - 1), ints + 4L * b.chainPos(j, 0), 0, ints + 4L * b.chainRowTable(j, 0),
                    0, b.tables(), xPrev, featRows, xOut, logits, b.packed(j));
            if (embedProj != 0 && (j > 1 || firstProjected)) {
                in = in.gathering(new DecoderKernels.LinkGather(0, b.packed(j - 1), embedProj, b.projected, featRows,
                        b.packed(j)));
            }
            if (projects(chainRows, steps - 1 - j)) in = in.projecting(projection(chainRows));
            fusedForward(chainRows, chainRows, in, on);
        }
    }

    /**
     * Whether a fused pass of {@code rows} rows with {@code linksAfter} links still to follow projects its features for
     * the next one ({@link #embedProj}): then that link skips es_hl_combine.
     */
    private boolean projects(int rows, int linksAfter) {
        return embedProj != 0 && linksAfter >= 1 && fused(rows);
    }

    /** The feature projection of {@code rows} rows a pass leaves in {@link Buffers#projected}. */
    private DecoderKernels.FeatureProjection projection(int rows) {
        return new DecoderKernels.FeatureProjection(rows, combine + 4L * h, 2 * h, hnorm, buf.projected);
    }

    /**
     * Checks a step's chunks (distinct sequences, features present when {@code features}, tokens in range, or negative
     * when {@code filled}: {@link Inputs#fill}) and that each sequence has room for its entries plus {@code extra} more;
     * returns the total entries.
     */
    private int validate(List<DraftChunk> chunks, int extra, boolean features, boolean filled) {
        if (chunks.isEmpty()) throw new IllegalArgumentException("a " + kind + " step needs at least one chunk");
        int m = 0;
        Set<Integer> seen = new HashSet<>();
        for (DraftChunk c : chunks) {
            if (features && c.features() == null) {
                throw new IllegalArgumentException(kind + " entries need a target feature per token; got tokens only");
            }
            if (!seen.add(c.sequence())) throw new IllegalArgumentException("sequence " + c.sequence() + " appears twice in one step");
            int n = c.tokens().length;
            requireRoom(c.sequence(), n + extra);
            for (int t : c.tokens()) {
                if (t < 0 && !filled || t >= vocab) {
                    throw new IllegalArgumentException("token id " + t + " outside the vocabulary [0, " + vocab + ")");
                }
            }
            m += n;
        }
        return m;
    }

    /** Fails with the numbers when {@code sequence} has no room for {@code more} entries. */
    private void requireRoom(int sequence, int more) {
        var s = cache.sequence(sequence);
        if (s.length + more > s.capacity) {
            throw new IllegalArgumentException(kind + " sequence " + sequence + " reserved " + s.capacity + " entries and holds "
                    + s.length + "; " + more + " more do not fit");
        }
    }

    private int graphRows(List<DraftChunk> chunks) {
        return CudaMoeModel.graphRows(useGraphs, chunks.size(), c -> chunks.get(c).tokens().length);
    }

    /**
     * Stages the step's rows (tokens, positions, block tables, logit rows, and the features or, given
     * {@code featureRows}, the target's feature row of each) and queues their upload. Padding rows of a graph step read
     * token 0 with a zero feature (or the target's row 0) at position 0 of block 0, which no sequence owns. Returns
     * where each chunk's block table starts in the uploaded tables.
     */
    private int[] upload(List<DraftChunk> chunks, int rows, boolean graph, int[] featureRows) {
        MemorySegment meta = buf.hostMeta, feat = buf.hostFeat;
        int cap = buf.cap;
        long tok = 0, pos = cap, table = 2L * cap, lrows = 3L * cap, frows = 4L * cap, tables = 5L * cap;
        int tableUsed = 1, r = 0, c = 0;
        int[] tableOffsets = new int[chunks.size()];
        meta.setAtIndex(ValueLayout.JAVA_INT, tables, 0);
        for (DraftChunk chunk : chunks) {
            var s = cache.sequence(chunk.sequence());
            int tableOffset = tableUsed;
            tableOffsets[c] = tableOffset;
            for (int b : s.blocks) meta.setAtIndex(ValueLayout.JAVA_INT, tables + tableUsed++, b);
            int[] ts = chunk.tokens();
            float[][] fs = chunk.features();
            int n = ts.length;
            // bulk copies: a catch-up stages a whole prompt, and a per-row store loop is slow until the JIT gets to it
            MemorySegment.copy(ts, 0, meta, ValueLayout.JAVA_INT, 4L * (tok + r), n);
            MemorySegment.copy(ascending(s.length, n), 0, meta, ValueLayout.JAVA_INT, 4L * (pos + r), n);
            MemorySegment.copy(repeated(tableOffset, n), 0, meta, ValueLayout.JAVA_INT, 4L * (table + r), n);
            if (featureRows != null) {
                MemorySegment.copy(ascending(featureRows[c], n), 0, meta, ValueLayout.JAVA_INT, 4L * (frows + r), n);
            } else {
                for (int j = 0; j < n; j++) {
                    if (fs[j].length != h) {
                        throw new IllegalArgumentException(kind + " feature of width " + fs[j].length + "; the head takes " + h);
                    }
                    MemorySegment.copy(fs[j], 0, feat, ValueLayout.JAVA_FLOAT, 4L * (r + j) * h, h);
                }
            }
            r += n;
            if (!graph) meta.setAtIndex(ValueLayout.JAVA_INT, lrows + c, r - 1);
            c++;
        }
        if (r < rows) {
            for (long block : new long[] {tok, pos, table, frows}) meta.asSlice(4L * (block + r), 4L * (rows - r)).fill((byte) 0);
            if (featureRows == null) feat.asSlice(4L * r * h, 4L * (rows - r) * h).fill((byte) 0);
        }
        if (graph) MemorySegment.copy(ascending(0, rows), 0, meta, ValueLayout.JAVA_INT, 4L * lrows, rows);
        buf.meta.copyFromAsync(meta.asSlice(0, 4L * (5L * cap + tableUsed)), stream);
        if (featureRows == null) buf.feat.copyFromAsync(feat.asSlice(0, 4L * rows * h), stream);
        lastLayout = null; // the fused round's tables are overwritten (and by a chain's caller, its link tables)
        return tableOffsets;
    }

    /** {@code from, from + 1, .., from + n - 1}. */
    private static int[] ascending(int from, int n) {
        int[] a = new int[n];
        for (int i = 0; i < n; i++) a[i] = from + i;
        return a;
    }

    /** {@code n} copies of {@code value}. */
    private static int[] repeated(int value, int n) {
        int[] a = new int[n];
        java.util.Arrays.fill(a, value);
        return a;
    }

    /** Queues the step eagerly, or through the row count's graph (captured after its first, eager, step). */
    private void run(int rows, int nLogits, boolean graph) {
        if (graph) {
            replayOrCapture(graphs, rows, () -> forward(rows, nLogits, null, false), "head failed, running it without graphs");
            return;
        }
        forward(rows, nLogits, null, false);
    }

    /**
     * Device addresses of a step's row inputs: the uploaded ones of {@link #forward(int, int, TargetRows, boolean)}, or
     * a chain link's.
     * Tokens come from {@code tokens}, or (when 0) as the argmax keys in {@code packedTokens}; {@code rowBack} (or 0)
     * places a draft tree's siblings (decoder.cu); features are rows {@code featRows} (0: row i) of {@code feat};
     * {@code x} takes the layer's output (an uploaded step's is the buffer read back as hidden rows); {@code logits}
     * the logit rows; {@code best} (or 0) collects their argmax keys. Only the fused path reads {@code packedTokens},
     * {@code featRows}, {@code x}, {@code logits} and {@code best} (the cuBLAS path takes the uploaded tokens, feature
     * rows 0.., the buffer read back and the logits buffer); a chain link always runs fused ({@link #forwardGreedy}).
     * {@code fill} (or 0): where a negative uploaded token {@code -1 - i} takes its token, the int at index i (a
     * catch-up's last entry after a greedy prefill, {@link #forwardGreedyAfterPrefill}).
     */
    private record Inputs(long tokens, long packedTokens, long rowPos, long rowBack, long rowTable, long logitRows,
                          long tables, long feat, long featRows, long x, long logits, long best, long fill,
                          DecoderKernels.LinkGather gather, DecoderKernels.FeatureProjection next) {
        Inputs(long tokens, long packedTokens, long rowPos, long rowBack, long rowTable, long logitRows, long tables,
               long feat, long featRows, long x, long logits, long best) {
            this(tokens, packedTokens, rowPos, rowBack, rowTable, logitRows, tables, feat, featRows, x, logits, best, 0,
                    DecoderKernels.LinkGather.NONE, DecoderKernels.FeatureProjection.NONE);
        }

        /** These inputs with negative tokens taken from {@code tokens}. */
        Inputs filling(long tokens) {
            return new Inputs(this.tokens, packedTokens, rowPos, rowBack, rowTable, logitRows, tables, feat, featRows, x,
                    logits, best, tokens, gather, next);
        }

        /** These inputs with the rows gathered instead of projected. */
        Inputs gathering(DecoderKernels.LinkGather g) {
            return new Inputs(tokens, packedTokens, rowPos, rowBack, rowTable, logitRows, tables, feat, featRows, x, logits,
                    best, fill, g, next);
        }

        /** These inputs with the pass also projecting its m rows' features for a gathered next link. */
        Inputs projecting(DecoderKernels.FeatureProjection projection) {
            return new Inputs(tokens, packedTokens, rowPos, rowBack, rowTable, logitRows, tables, feat, featRows, x, logits,
                    best, fill, gather, projection);
        }
    }

    /**
     * Where a catch-up on the target's last prefill reads: its feature rows, and (or 0) its argmax per chunk for the
     * entries whose token the prefill picked on the device ({@link Inputs#fill}).
     */
    private record TargetRows(long features, long sampled) {}

    /**
     * The launch sequence of one step of {@code m} rows over the uploaded metadata, with the uploaded features
     * ({@code target} null) or the target's rows the uploaded feature rows name (only fused steps take those:
     * {@link #takesTargetFeatures}); {@code project}: a chain's first step that also projects its features for the
     * first link ({@link #projects} said it may).
     */
    private void forward(int m, int nLogits, TargetRows target, boolean project) {
        Buffers b = buf;
        Inputs in = new Inputs(b.tokens(), 0, b.rowPos(), 0, b.rowTable(), b.logitRows(), b.tables(),
                target != null ? target.features() : b.feat.address(), target != null ? b.featRows() : 0, b.x,
                b.logits.address(), 0);
        if (target != null && target.sampled() != 0) in = in.filling(target.sampled());
        forward(m, nLogits, project ? in.projecting(projection(m)) : in);
    }

    private void forward(int m, int nLogits, Inputs in) {
        if (fused(m)) {
            fusedForward(m, nLogits, in, stream);
            return;
        }
        long s = stream.handle();
        Buffers b = buf;
        k.embed(s, m, in.tokens(), embed, b.e, h);
        long eIn = b.e, fIn = in.feat();
        if (kind == DraftNetworkKind.MTP) {
            k.rmsnorm(s, m, b.e, 0, 0, enorm, eps, h, 0, b.eNorm);
            k.rmsnorm(s, m, in.feat(), 0, 0, hnorm, eps, h, 0, b.fNorm);
            eIn = b.eNorm;
            fIn = b.fNorm;
        }
        blas.gemm(eIn, Cublas.Type.F32, combineE, Cublas.Type.F32, b.x, Cublas.Type.F32, m, h, h, false);
        blas.gemm(fIn, Cublas.Type.F32, combineF, Cublas.Type.F32, b.x, Cublas.Type.F32, m, h, h, true);
        k.rmsnorm(s, m, b.x, 0, 0, inputNorm, eps, h, b.a, 0);
        blas.gemm(b.a, Cublas.Type.BF16, qkv, Cublas.Type.BF16, b.qkv, Cublas.Type.F32, m, qkvWidth, h, false);
        k.qkvRopeAppend(s, m, b.qkv, qNorm, kNorm, invFreq, in.rowPos(), in.rowBack(), in.rowTable(), in.tables(), eps, nH,
                nKV, d, b.q, cache.keys(0), cache.values(0));
        k.attention(s, m, b.q, cache.keys(0), cache.values(0), in.rowPos(), in.rowBack(), in.rowTable(), in.tables(), nH, nKV,
                d, scale, b.attn);
        blas.gemm(b.attn, Cublas.Type.BF16, o, Cublas.Type.BF16, b.x, Cublas.Type.F32, m, h, nH * d, true);
        k.rmsnorm(s, m, b.x, 0, 0, postNorm, eps, h, b.a, b.bF32);
        if (kind == DraftNetworkKind.EAGLE) {
            blas.gemm(b.a, Cublas.Type.BF16, gateUp, Cublas.Type.BF16, b.gu, Cublas.Type.F32, m, 2 * inter, h, false);
            k.siluMul(s, m, b.gu, inter, b.act);
            blas.gemm(b.act, Cublas.Type.BF16, down, Cublas.Type.BF16, b.x, Cublas.Type.F32, m, h, inter, true);
        } else {
            blas.gemm(b.bF32, Cublas.Type.F32, router, Cublas.Type.F32, b.router, Cublas.Type.F32, m, experts, h, false);
            moe(m, s);
            k.addBf16(s, b.x, b.moeOut, (long) m * h);
        }
        // x = o (pre-norm) is the next entry's feature; logits = lm_head(norm(o)) of the requested rows
        k.rmsnorm(s, nLogits, b.x, 0, in.logitRows(), outNorm, eps, h, b.hn, 0);
        blas.gemm(b.hn, Cublas.Type.BF16, lmHead, Cublas.Type.BF16, b.logits.address(), Cublas.Type.F32, nLogits, vocab, h, false);
    }

    /** The step through the fused kernels on {@code on}: each projection with the norm before it and the step after it. */
    private void fusedForward(int m, int nLogits, Inputs in, CudaStream on) {
        long s = on.handle();
        Buffers b = buf;
        long x = in.x();
        if (in.gather() == DecoderKernels.LinkGather.NONE) {
            k.hlCombine(s, m, in.tokens(), in.packedTokens(), in.fill(), embed, embedProj, in.feat(), in.featRows(), enorm,
                    hnorm, eps, h, combine, x, in.best());
        }
        k.hlQkvRope(s, m, x, inputNorm, eps, h, qkv, qNorm, kNorm, invFreq, in.rowPos(), in.rowBack(), in.rowTable(),
                in.tables(), nH, nKV, d, b.q, cache.keys(0), cache.values(0), in.gather());
        k.attention(s, m, b.q, cache.keys(0), cache.values(0), in.rowPos(), in.rowBack(), in.rowTable(), in.tables(), nH, nKV,
                d, scale, b.attn);
        k.hlAdd(s, m, b.attn, nH * d, o, h, x);
        if (kind == DraftNetworkKind.EAGLE) {
            k.hlSwiglu(s, m, x, postNorm, eps, h, gateUp, inter, b.act);
            k.hlAdd(s, m, b.act, inter, down, h, x);
        } else {
            k.hlNormRouter(s, m, x, postNorm, eps, h, router, experts, b.router, b.a);
            moe(m, s);
            k.addBf16(s, x, b.moeOut, (long) m * h);
        }
        k.hlLmHead(s, nLogits, x, in.logitRows(), outNorm, eps, h, lmHead, vocab, in.logits(), in.best(), in.next());
    }

    /** The MTP layer's MoE block through the draft role's kernel, in slices of at most its {@code maxTokens} rows. */
    private void moe(int m, long s) {
        Buffers b = buf;
        for (int from = 0; from < m; ) {
            MoeKernel kernel;
            try {
                kernel = moe.kernel(0, m - from, spec -> MoeWeightsFactory.build(head, MoeDecoderLayout.Naming.QWEN3_MOE,
                        moeLayer, spec, moeWeights));
            } catch (MoeKernelUnavailableException e) {
                throw new IllegalStateException("MTP MoE layer " + moeLayer + ": " + e.getMessage(), e);
            }
            if (kernel.backend().equals(CpuReferenceBackendProvider.NAME)) {
                throw new IllegalStateException("MTP MoE layer: the draft role's binding chose " + kernel.backend()
                        + ", which runs on host memory; the GPU head needs a GPU backend (\"moe_backend\":\"triton\" in"
                        + " --speculative-config), or run with --device cpu");
            }
            int rows = Math.min(kernel.layer().maxTokens(), m - from);
            kernel.forward(Tensor.device(DType.BF16, b.a + 2L * from * h, rows, h),
                    Tensor.device(DType.F32, b.router + 4L * from * experts, rows, experts),
                    Tensor.device(DType.BF16, b.moeOut + 2L * from * h, rows, h), s);
            from += rows;
        }
    }

    private void ensureRows(int rows) {
        if (rows <= buf.cap) return;
        dropGraphs(); // new buffers move every pointer a graph holds
        buf.close();
        buf = new Buffers(Math.max(rows, 2 * buf.cap));
    }

    private void dropGraphs() {
        graphs.values().forEach(CudaGraph::close);
        graphs.clear();
        chains.values().forEach(CudaGraph::close);
        chains.clear();
    }

    /** Activations, row metadata and their pinned host staging for {@code cap} rows. */
    private final class Buffers implements AutoCloseable {
        final int cap;
        final DeviceArrays scratch = new DeviceArrays(ctx);
        final DeviceBuffer meta, feat, logits, xBuf, chain, packedBuf;
        final long e, eNorm, fNorm, x, x2, a, bF32, qkv, q, attn, gu, act, router, moeOut, hn;
        /** The feature half of the input projection a pass leaves for the next link (DecoderKernels.FeatureProjection). */
        final long projected;
        final PinnedHostMemory pinned;
        final MemorySegment hostMeta, hostFeat, hostLogits, hostX, hostChain, hostPacked;

        Buffers(int cap) {
            this.cap = cap;
            long metaBytes = 4L * (5L * cap + tableCap);
            meta = DeviceBuffer.alloc(ctx, metaBytes);
            feat = DeviceBuffer.alloc(ctx, 4L * cap * h);
            logits = DeviceBuffer.alloc(ctx, 4L * cap * vocab);
            xBuf = DeviceBuffer.alloc(ctx, 4L * cap * h);
            e = scratch.zeros(4L * cap * h);
            eNorm = scratch.zeros(4L * cap * h);
            fNorm = scratch.zeros(4L * cap * h);
            x = xBuf.address();
            x2 = scratch.zeros(4L * cap * h);
            a = scratch.zeros(2L * cap * h);
            bF32 = scratch.zeros(4L * cap * h);
            qkv = scratch.zeros(4L * cap * qkvWidth);
            q = scratch.zeros(4L * cap * nH * d);
            attn = scratch.zeros(2L * cap * nH * d);
            gu = scratch.zeros(4L * cap * Math.max(1, 2 * inter));
            act = scratch.zeros(2L * cap * Math.max(1, inter));
            router = scratch.zeros(4L * cap * Math.max(1, experts));
            moeOut = scratch.zeros(2L * cap * h);
            hn = scratch.zeros(2L * cap * h);
            projected = scratch.zeros(4L * cap * h);
            long chainBytes = 4L * chainInts(MAX_CHAIN), packedBytes = 8L * packedSlot(ROW_KEYS, cap);
            chain = DeviceBuffer.alloc(ctx, chainBytes);
            packedBuf = DeviceBuffer.alloc(ctx, packedBytes);
            long featOff = align(metaBytes), logitsOff = align(featOff + 4L * cap * h), xOff = align(logitsOff + 4L * cap * vocab),
                    chainOff = align(xOff + 4L * cap * h), packedOff = align(chainOff + chainBytes);
            pinned = PinnedHostMemory.alloc(ctx, packedOff + packedBytes);
            hostMeta = pinned.segment().asSlice(0, metaBytes);
            hostFeat = pinned.segment().asSlice(featOff, 4L * cap * h);
            hostLogits = pinned.segment().asSlice(logitsOff, 4L * cap * vocab);
            hostX = pinned.segment().asSlice(xOff, 4L * cap * h);
            hostChain = pinned.segment().asSlice(chainOff, chainBytes);
            hostPacked = pinned.segment().asSlice(packedOff, packedBytes);
        }

        // The chain's ints, each block CHAIN_ROWS long: the first step's logit and output rows per chunk, then per link
        // j (1..MAX_CHAIN-1) its positions and block-table rows; a chain of `steps` uses chainInts(steps) of them.
        long chainFirstLogitRow(int c) { return c; }
        long chainFirstXRow(int c) { return (long) CHAIN_ROWS + c; }
        long chainPos(int j, int c) { return (2L * j) * CHAIN_ROWS + c; }
        long chainRowTable(int j, int c) { return (2L * j + 1) * CHAIN_ROWS + c; }
        long chainInts(int steps) { return 2L * steps * CHAIN_ROWS; }

        // The argmax keys (longs) per link j and row c: link j's drafts, and link j + 1's tokens. A fused round of k
        // steps leaves its verdict per row (accepted, bonus: two ints) in slot k, a tree round its sibling drafts in
        // slots k + 1..2k, and its first step's key of every row in slot ROW_KEYS, the last (cap keys). The slots
        // before it hold CHAIN_ROWS keys, not cap: a round reads them back, and once a batch's prefill has grown cap to
        // a thousand rows, cap-long slots made that copy 57 KB instead of 3.5 (the chain's ints likewise).
        long packedSlot(int j, int c) { return (long) j * CHAIN_ROWS + c; }
        long packed(int j) { return packedBuf.address() + 8L * packedSlot(j, 0); }

        /** The drafts read back: row c's link j is the token of the argmax key in slot (j, c). */
        int[][] drafts(int rows, int steps) {
            return drafts(rows, steps, 0);
        }

        /** {@link #drafts(int, int)} from the keys in slots {@code from..from + steps - 1}. */
        int[][] drafts(int rows, int steps, int from) {
            int[][] drafts = new int[rows][steps];
            for (int c = 0; c < rows; c++) {
                for (int j = 0; j < steps; j++) {
                    drafts[c][j] = DecoderKernels.argmaxId(hostPacked.getAtIndex(ValueLayout.JAVA_LONG, packedSlot(from + j, c)));
                }
            }
            return drafts;
        }

        private static long align(long n) {
            return (n + 255) / 256 * 256;
        }

        long tokens() { return meta.address(); }
        long rowPos() { return meta.address() + 4L * cap; }
        long rowTable() { return meta.address() + 8L * cap; }
        long logitRows() { return meta.address() + 12L * cap; }
        long featRows() { return meta.address() + 16L * cap; }
        long tables() { return meta.address() + 20L * cap; }

        @Override
        public void close() {
            pinned.close();
            chain.close();
            packedBuf.close();
            meta.close();
            feat.close();
            logits.close();
            xBuf.close();
            scratch.close();
        }
    }

    @Override
    public void close() {
        if (ctx.isClosed()) return;
        try {
            stream.synchronize();
        } finally {
            dropGraphs();
            buf.close();
            cache.close();
            w.close();
            blas.close();
            ctx.close();
            if (moeWeights.scope().isAlive()) moeWeights.close();
            head.close();
        }
    }
}
