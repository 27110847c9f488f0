package dev.moespec.engine.cuda;

import dev.moespec.api.config.ModelConfig;
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
import dev.moespec.engine.loader.CheckpointLayout;
import dev.moespec.engine.loader.MoeDecoderLayout;
import dev.moespec.engine.model.ModelRunner;
import dev.moespec.engine.model.MoeKernelSource;
import dev.moespec.engine.model.MoeWeightsFactory;
import dev.moespec.engine.model.SequenceChunk;
import dev.moespec.engine.model.StepOutput;
import dev.moespec.moe.MoeKernel;
import dev.moespec.moe.MoeKernelUnavailableException;
import dev.moespec.moe.MoeLayerSpec;
import dev.moespec.moe.Phase;
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
 * The CUDA forward pass of a Qwen3-MoE / Mixtral decoder (FORMAT.md §4.4) behind {@link ModelRunner}: weights
 * uploaded once; per step the embedding gather, RMSNorms, q/k-norm + RoPE + paged-KV append and GQA attention run
 * as our kernels ({@code decoder.cu}), the router with the norm before it as one kernel ({@code head_linear.cu};
 * cuBLAS for hidden sizes it does not take), the dense GEMMs (QKV, O, lm_head) through cuBLAS, and the MoE layers
 * through the role's backend kernels on device tensors. Several sequences of different lengths share a
 * step; the MoE sees all their rows in one call.
 *
 * <p><b>Precision.</b> The residual stream, attention, norms, router and logits are fp32; GEMM inputs of the
 * projections and lm_head are BF16 (fp32 accumulation), as is the MoE's input and output (the backends' contract).
 *
 * <p><b>CUDA graphs.</b> With graphs on, a step whose chunks all carry the same number of tokens t (a decode step:
 * t = 1; a speculative verification: t = k + 1 per sequence; a drafter's catch-up) is padded to a bucket of
 * (sequences rounded up to 1, 2, 4, …, 64) × t rows, while that is at most {@link #GRAPH_MAX_ROWS}: the first
 * step of a row count runs eagerly and is then captured; later steps upload their row metadata and replay the
 * graph. A graph step computes logits for every row. The launch sequence depends only on the row count, so
 * (sequences, t) buckets of equal rows share one graph. Padding rows read token 0 at position 0 from block 0 of
 * the KV cache, which no sequence owns. A prefill of up to {@link #PREFILL_GRAPH_CHUNKS} prompts and
 * {@link #PREFILL_GRAPH_MAX_ROWS} tokens (each prompt's last logits only) replays a graph too, its rows padded to a
 * multiple of {@link #PREFILL_GRAPH_STEP} and its MoE run in decode-phase slices (capture-safe); an eager prefill is
 * some sixty launches from the host, which took 0.3–0.9 ms of a 128-token prompt whose kernels take far less.
 *
 * <p><b>Batch invariance.</b> Kernels pick their tiling, split and even their phase by row count (cuBLAS per shape,
 * the MoE backends' decode/prefill paths and split-K factors), so by default a row's logits depend in their last
 * bits on how many rows share its step, and a near-tie can then resolve differently in a plain decode step and in a
 * speculative verification pass. With {@link #batchInvariant(boolean)} on (as vLLM's {@code VLLM_BATCH_INVARIANT}),
 * every step is padded to a multiple of {@link #INVARIANT_ROWS} rows and every dense GEMM and MoE call runs on
 * slices of exactly that many rows: each row then meets the same kernels whatever the batch, so greedy speculative
 * output equals plain greedy output bit for bit. It costs the padding (prefill runs the MoE's decode-phase kernels).
 *
 * <p><b>Launch counts.</b> Every step, and the kernel creation at load, runs inside
 * {@link LaunchLedger#scope}{@code (role)}, so the kernels of the target and of a draft model are counted apart.
 *
 * <p>Not thread-safe: one generation loop owns it.
 */
public final class CudaMoeModel implements ModelRunner {
    /** Decode batch buckets a graph is captured for. */
    static final int[] BUCKETS = {1, 2, 4, 8, 16, 32, 64};
    /** Most rows a graph step takes: the MoE stays in its decode phase, whose kernels are capture-safe. */
    static final int GRAPH_MAX_ROWS = Phase.DECODE_MAX_TOKENS;
    /** Prefill graphs: rows rounded up to a multiple of this, at most that many rows and prompts. */
    static final int PREFILL_GRAPH_STEP = 32, PREFILL_GRAPH_MAX_ROWS = 256, PREFILL_GRAPH_CHUNKS = 8;
    /** The fixed row count of every GEMM and MoE call in batch-invariant mode: the MoE's decode phase, whole. */
    public static final int INVARIANT_ROWS = Phase.DECODE_MAX_TOKENS;
    private static final int ALIGN = 256;

    private final Checkpoint checkpoint;
    private final ModelConfig cfg;
    private final MoeDecoderLayout.Naming naming;
    private final MoeKernelSource moe;
    private final String role;
    private final int h, nH, nKV, d, vocab, experts, qkvWidth, layers;
    private final float eps, scale;
    private final CudaContext ctx;
    private final CudaStream stream;
    private final Cublas blas;
    private final DecoderKernels k;
    private final DenseWeights w;
    private final DeviceKvCache cache;
    private final Arena arena = Arena.ofShared();
    private final Arena moeWeightsArena = Arena.ofShared();
    private final Map<Integer, Captured> graphs = new HashMap<>();
    private final Map<List<Object>, CudaGraph> followed = new HashMap<>(); // passes with their follower's work
    private final Map<Integer, CudaGraph> prefillGraphs = new HashMap<>(); // key: padded rows
    private boolean prefillGraphsOn = true; // off after a failed prefill capture (decode graphs stay on)
    private final int tableCap;
    private boolean useGraphs = true;
    private boolean batchInvariant;
    /** Whether the post-attention norm and the router run as one kernel ({@code es_hl_norm_router}). */
    private final boolean fusedRouter;
    private String graphFailure; // why capture failed, null while it has not
    private StepProfiler profiler; // null unless profiling
    private StepTimer timer;       // null unless timing decode steps
    private Buffers buf;

    private record Captured(CudaGraph graph, List<StepRegion> marks) {}

    /**
     * Uploads the dense weights of {@code checkpoint} (which it then owns and closes) to device {@code ordinal}.
     *
     * @param moe          the role's MoE kernels (device backends: the runner hands them device tensors)
     * @param kvCacheBytes the GPU KV-cache memory budget
     * @throws IllegalStateException when the engine's kernels or cuBLAS are missing (the message says why)
     */
    public CudaMoeModel(Checkpoint checkpoint, MoeKernelSource moe, int ordinal, long kvCacheBytes) {
        this(checkpoint, moe, ordinal, kvCacheBytes, "target");
    }

    /**
     * As {@link #CudaMoeModel(Checkpoint, MoeKernelSource, int, long)} for the model of {@code role} ({@code target},
     * {@code draft}): its launches are counted under that {@link LaunchLedger#scope}.
     */
    public CudaMoeModel(Checkpoint checkpoint, MoeKernelSource moe, int ordinal, long kvCacheBytes, String role) {
        this.role = Objects.requireNonNull(role, "role");
        this.checkpoint = Objects.requireNonNull(checkpoint, "checkpoint");
        this.moe = Objects.requireNonNull(moe, "moe");
        this.cfg = checkpoint.config();
        this.naming = ((MoeDecoderLayout) CheckpointLayout.of(cfg)).naming();
        h = cfg.hiddenSize();
        nH = cfg.numAttentionHeads();
        nKV = cfg.numKeyValueHeads();
        d = cfg.headDim();
        vocab = cfg.vocabSize();
        experts = cfg.numExperts();
        layers = cfg.numHiddenLayers();
        qkvWidth = (nH + 2 * nKV) * d;
        fusedRouter = DecoderKernels.normRouterFits(h);
        eps = (float) cfg.rmsNormEps();
        scale = (float) (1.0 / Math.sqrt(d));
        DecoderKernels.requireAttentionShape(d, nH, nKV, String.valueOf(cfg.configFile()));
        if (!DecoderKernels.present()) {
            throw new IllegalStateException("the engine's CUDA kernels (" + kernelResourceName() + ") are not in this build:"
                    + " it was built without nvcc; rebuild with CUDA installed, or run with --device cpu");
        }
        ctx = CudaContext.open(ordinal);
        CudaStream s = null;
        Cublas b = null;
        DenseWeights dw = null;
        DeviceKvCache kv = null;
        try {
            s = CudaStream.create(ctx);
            b = Cublas.create(ctx, s);
            k = DecoderKernels.load(ctx);
            dw = new DenseWeights(ctx, checkpoint, naming);
            kv = new DeviceKvCache(ctx, layers, nKV * d, kvCacheBytes);
        } catch (RuntimeException e) {
            if (kv != null) kv.close();
            if (dw != null) dw.close();
            if (b != null) b.close();
            ctx.close();
            arena.close();
            moeWeightsArena.close();
            throw e;
        }
        stream = s;
        blas = b;
        w = dw;
        cache = kv;
        tableCap = kv.blocks() + 1;
        buf = new Buffers(Phase.DECODE_MAX_TOKENS);
        try (LaunchLedger.Scope scope = LaunchLedger.scope(role)) {
            for (int l = 0; l < layers; l++) moeKernel(l, 1); // decode kernels and expert weights up front (TTFT)
        } catch (RuntimeException e) {
            closeDevice(); // the caller still owns the checkpoint when construction fails
            throw e;
        }
    }

    private static String kernelResourceName() {
        return dev.moespec.cuda.CudaModule.kernelResource(DecoderKernels.ARTIFACT_ID);
    }

    /** Why decode-graph capture failed (graphs were then turned off), or empty. */
    public java.util.Optional<String> graphFailure() {
        return java.util.Optional.ofNullable(graphFailure);
    }

    /** Whether decode steps replay CUDA graphs. */
    public boolean graphsOn() {
        return useGraphs;
    }

    /** Turns decode graphs on (default) or off; off drops the captured ones. */
    public void useGraphs(boolean on) {
        if (!on) dropGraphs();
        useGraphs = on;
    }

    /** Turns batch-invariant mode on or off (default off; see the class comment). Drops captured graphs. */
    public void batchInvariant(boolean on) {
        dropGraphs();
        batchInvariant = on;
    }

    /** Whether every row meets the same kernels whatever its step's size (see the class comment). */
    public boolean batchInvariantOn() {
        return batchInvariant;
    }

    /**
     * Starts (or stops, {@code false}) recording device time per {@link StepRegion}. Drops captured graphs: they are
     * captured again with (or without) the region events.
     */
    public void profile(boolean on) {
        dropGraphs();
        if (on && profiler == null) profiler = new StepProfiler(ctx, stream);
        if (!on && profiler != null) {
            profiler.close();
            profiler = null;
        }
    }

    /** Mean device ms per step and region since profiling started or was last reset; empty when not profiling. */
    public Map<StepRegion, Double> regionMillis() {
        return profiler == null ? Map.of() : profiler.meanMillis();
    }

    /** Mean device ms per profiled step (first region event to last). */
    public double profiledStepMillis() {
        return profiler == null ? 0 : profiler.meanStepMillis();
    }

    /**
     * Starts (or stops) timing {@link #decode} steps: the host time to queue a step (Java-side work and driver calls,
     * from entry until every launch is queued) and the device time from the metadata upload to the last kernel
     * (CUDA events outside any graph). Restarting clears the sums.
     */
    public void timeSteps(boolean on) {
        if (timer != null) timer.close();
        timer = on ? new StepTimer(ctx, stream) : null;
    }

    /** Median host queue time and mean device time of the decode steps timed since {@link #timeSteps}{@code (true)}. */
    public StepTimer.Times stepTimes() {
        return timer == null ? new StepTimer.Times(0, 0, 0) : timer.times();
    }

    public void resetProfile() {
        if (profiler != null) profiler.reset();
    }

    @Override
    public ModelConfig config() {
        return cfg;
    }

    @Override
    public int open(int maxTokens) {
        ModelRunner.requireWithinPositions(cfg, maxTokens);
        return cache.open(maxTokens);
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

    @Override
    public String moeBackend() {
        return moe.describe();
    }

    @Override
    public String device() {
        return ctx.info().name();
    }

    /** The role label launches are counted under. */
    public String role() {
        return role;
    }

    @Override
    public StepOutput step(List<SequenceChunk> chunks) {
        try (LaunchLedger.Scope scope = LaunchLedger.scope(role)) {
            return stepInScope(chunks, true);
        }
    }

    /** As {@link #step}; the features stay on the device ({@link #deviceFeatures}) until the next step. */
    @Override
    public StepOutput stepLogitsOnly(List<SequenceChunk> chunks) {
        try (LaunchLedger.Scope scope = LaunchLedger.scope(role)) {
            return stepInScope(chunks, false);
        }
    }

    /**
     * The device address of the features (rows of {@code h} fp32) of the last {@link #step} or {@link #stepLogitsOnly},
     * row r the r-th token of the step's chunks in order; valid until the next step of any kind.
     *
     * @throws IllegalStateException when the last step was a decode step or a verification pass (they reuse the rows)
     */
    long deviceFeatures(int rows) {
        if (rows > rowsWithFeatures) {
            throw new IllegalStateException("features of " + rows + " rows asked for; the last step left " + rowsWithFeatures
                    + (rowsWithFeatures == 0 ? " (a decode step or verification pass came after it)" : ""));
        }
        return buf.x.address();
    }

    private int rowsWithFeatures; // rows of the last step's features still in buf.x (0 once anything else ran)

    /**
     * Rows of the prefill graph for {@code chunks} ({@code m} tokens), or 0 when the step is no such prefill: graphs
     * off or failed, batch-invariant or profiled, more prompts or tokens than a prefill graph takes, or a chunk that
     * wants the logits of every row.
     */
    private int prefillGraphRows(List<SequenceChunk> chunks, int m) {
        if (!useGraphs || !prefillGraphsOn || batchInvariant || profiler != null || chunks.size() > PREFILL_GRAPH_CHUNKS
                || m > PREFILL_GRAPH_MAX_ROWS) {
            return 0;
        }
        for (SequenceChunk c : chunks) if (c.allLogits()) return 0;
        return (m + PREFILL_GRAPH_STEP - 1) / PREFILL_GRAPH_STEP * PREFILL_GRAPH_STEP;
    }

    /** Prefill graphs captured so far (one per padded row count). */
    int prefillGraphCount() {
        return prefillGraphs.size();
    }

    /**
     * Queues a prefill of {@code rows} (padded) rows through its graph; the first of a row count runs eagerly and is
     * captured. A failed capture turns prefill graphs off, said once; decode graphs stay on.
     */
    private void runPrefill(int rows) {
        CudaGraph g = prefillGraphs.get(rows);
        if (g != null) {
            g.launch(stream);
            return;
        }
        Runnable work = () -> forward(rows, PREFILL_GRAPH_CHUNKS, true, 0, null);
        work.run(); // kernels are created on first use, which capture forbids
        CudaGraph captured = capture(work, "prefilling eagerly", why -> prefillGraphsOn = false);
        if (captured != null) prefillGraphs.put(rows, captured);
    }

    /** Rows of the graph bucket for {@code chunks}, or 0 when the step runs eagerly (graphs off, ragged, too big). */
    private int graphRows(List<SequenceChunk> chunks) {
        return graphRows(useGraphs, chunks.size(), c -> chunks.get(c).tokens().length);
    }

    /**
     * Rows of the graph bucket of a step of {@code chunks} chunks whose chunk {@code c} carries {@code tokens(c)}
     * tokens: the bucket of the chunk count times the tokens per chunk, or 0 when the step runs eagerly (graphs off,
     * ragged chunks, more rows than {@link #GRAPH_MAX_ROWS}). The drafter networks bucket their steps the same way.
     */
    static int graphRows(boolean graphsOn, int chunks, java.util.function.IntUnaryOperator tokens) {
        if (!graphsOn || chunks > BUCKETS[BUCKETS.length - 1]) return 0;
        int t = tokens.applyAsInt(0);
        for (int c = 1; c < chunks; c++) if (tokens.applyAsInt(c) != t) return 0;
        int rows = bucket(chunks) * t;
        return rows <= GRAPH_MAX_ROWS ? rows : 0;
    }

    /**
     * Queues a greedy prefill of {@code chunks} (each wanting its last logits only) and does not wait: each chunk's
     * argmax (the host's greedy rule) is taken on the device and copied back, the features stay on the device
     * ({@link #deviceFeatures}), and {@code done} is recorded behind them, for work another stream queues behind the
     * prefill ({@link CudaFeatureHead#forwardGreedyAfterPrefill}). Each sequence's cache grows by its chunk.
     *
     * @return chunk c's row among the sampled tokens ({@link #sampledTokens}; {@link #prefillToken} once done passed)
     * @throws IllegalArgumentException when a chunk asks for all its logits
     */
    public int[] queueGreedyPrefill(List<SequenceChunk> chunks, CudaEvent done) {
        try (LaunchLedger.Scope scope = LaunchLedger.scope(role)) {
            for (SequenceChunk c : chunks) {
                if (c.allLogits()) {
                    throw new IllegalArgumentException("a greedy prefill takes chunks that want their last logits only");
                }
            }
            QueuedStep q = queueStep(chunks);
            int[] sampledRows = new int[chunks.size()];
            int row = 0;
            for (int c = 0; c < chunks.size(); c++) {
                int n = chunks.get(c).tokens().length;
                sampledRows[c] = q.everyRow() ? row + n - 1 : c;
                row += n;
                cache.sequence(chunks.get(c).sequence()).length += n;
            }
            buf.sampled.copyToAsync(buf.hostSampled.asSlice(0, 4L * q.nOut()), stream);
            done.record(stream);
            rowsWithFeatures = q.m();
            return sampledRows;
        }
    }

    /** The device address of the last step's sampled tokens (ints, one per logit row). */
    long sampledTokens() {
        return buf.sampled.address();
    }

    /** The token at {@code row} of the sampled tokens a {@link #queueGreedyPrefill} copied back, once its event passed. */
    int prefillToken(int row) {
        return buf.hostSampled.getAtIndex(ValueLayout.JAVA_INT, row);
    }

    /**
     * A queued step's shape: its real rows, whether logits came for every row (graph, batch-invariant) or only the
     * requested ones, and how many logit rows.
     */
    private record QueuedStep(int m, boolean everyRow, int nOut) {}

    /** Uploads the step's metadata and queues its pass (a graph, a prefill graph, or eagerly). */
    private QueuedStep queueStep(List<SequenceChunk> chunks) {
        int m = validate(chunks);
        int graphRows = graphRows(chunks);
        boolean graph = graphRows > 0;
        int prefillRows = graph ? 0 : prefillGraphRows(chunks, m);
        int rows = invariantRows(graph ? graphRows : prefillRows > 0 ? prefillRows : m);
        boolean everyRow = graph || batchInvariant; // logits for every row, not just the requested ones
        int nLogits = 0;
        for (SequenceChunk c : chunks) nLogits += c.allLogits() ? c.tokens().length : 1;
        ensureRows(rows);
        // a prefill graph computes PREFILL_GRAPH_CHUNKS logit rows: the prompts' last rows first, then row 0
        int[] logitRows = new int[everyRow ? rows : prefillRows > 0 ? PREFILL_GRAPH_CHUNKS : nLogits];
        fillMetadata(chunks, m, rows, logitRows, null);
        int nOut = everyRow ? rows : nLogits;
        if (prefillRows > 0) runPrefill(rows);
        else run(rows, nOut, graph);
        return new QueuedStep(m, everyRow, nOut);
    }

    private StepOutput stepInScope(List<SequenceChunk> chunks, boolean features) {
        QueuedStep q = queueStep(chunks);
        int m = q.m(), nOut = q.nOut();
        boolean everyRow = q.everyRow();
        // logits of the requested rows, features of every real row (when asked for)
        buf.logits.copyToAsync(buf.hostLogits.asSlice(0, 4L * nOut * vocab), stream);
        if (features) buf.x.copyToAsync(buf.hostX.asSlice(0, 4L * m * h), stream);
        stream.synchronize();
        rowsWithFeatures = m;
        if (profiler != null) profiler.collect(lastMarks);
        float[][] logits = new float[chunks.size()][], feats = features ? new float[chunks.size()][] : null;
        int row = 0, out = 0;
        for (int c = 0; c < chunks.size(); c++) {
            SequenceChunk chunk = chunks.get(c);
            int n = chunk.tokens().length, count = chunk.allLogits() ? n : 1;
            if (features) {
                feats[c] = new float[n * h];
                MemorySegment.copy(buf.hostX, ValueLayout.JAVA_FLOAT, 4L * row * h, feats[c], 0, n * h);
            }
            logits[c] = new float[count * vocab];
            // a graph or batch-invariant step has logits for every row; an eager one only for the requested rows, packed
            int from = everyRow ? row + n - count : out;
            MemorySegment.copy(buf.hostLogits, ValueLayout.JAVA_FLOAT, 4L * from * vocab, logits[c], 0, count * vocab);
            row += n;
            out += count;
            cache.sequence(chunk.sequence()).length += n;
        }
        return new StepOutput(vocab, h, logits, feats);
    }

    /**
     * Work queued on the device right behind a verification pass ({@link #queueVerification}), on the pass's stream:
     * with graphs on, it is captured into one graph with the pass, so a round is one launch and its first kernel
     * overlaps the pass's last.
     */
    public interface PassFollower {
        /** What the queued launches depend on besides the pass (their buffers, shapes): a graph is kept per key and rows. */
        Object graphKey();

        /** Queues the work on {@code pass.stream()}; called eagerly once per key, then again inside the capture. */
        void queue(QueuedPass pass);

        /**
         * Queues work that reads the pass's features only, as soon as its last layer has written them: on
         * {@code pass.stream()} before the final norm, the logits and the argmax, so work forked from there onto a
         * stream of the follower's own runs beside them ({@link #queue} joins it back). Called before {@link #queue},
         * as often.
         */
        default void queueOnFeatures(QueuedPass pass) {}
    }

    /**
     * Queues a greedy verification pass over {@code chunks} (each of the same length: a sequence's last committed token
     * and its drafts) and {@code follower}'s work behind it, and does not wait for them: every row's argmax (as the
     * host's greedy sampler: lowest id on ties) and feature stay on the device for the follower
     * ({@link CudaFeatureHead#draftAfter}). Graph-shaped steps replay one graph of pass and follower. Each sequence's
     * cache grows by its chunk, as {@link #step}.
     *
     * <p>With {@code siblings} > 0 each chunk is a draft tree: its last committed token, k = t - 1 - siblings chain
     * drafts, then {@code siblings} sibling drafts, sibling j an alternative to chain draft j. A sibling takes its chain
     * draft's position (RoPE, and it attends to the committed tokens and the chain drafts before it only) but its k and
     * v go to the spare slot k positions further on (decoder.cu, {@code row_back}); the follower moves an accepted
     * sibling's to its position ({@link CudaFeatureHead#draftAfter}).
     *
     * @throws IllegalArgumentException when the chunks differ in length or have more siblings than chain drafts
     */
    public void queueVerification(List<SequenceChunk> chunks, int siblings, PassFollower follower) {
        try (LaunchLedger.Scope scope = LaunchLedger.scope(role)) {
            int m = validate(chunks);
            int t = chunks.getFirst().tokens().length;
            for (SequenceChunk c : chunks) {
                if (c.tokens().length != t) {
                    throw new IllegalArgumentException("a queued verification takes chunks of one length; got " + t + " and "
                            + c.tokens().length + " tokens");
                }
            }
            if (siblings < 0 || siblings > (t - 1) / 2) {
                throw new IllegalArgumentException(siblings + " sibling drafts in chunks of " + t + " tokens: a chunk holds"
                        + " its last token, k chain drafts and at most k siblings");
            }
            int graphRows = graphRows(chunks);
            int rows = invariantRows(graphRows > 0 ? graphRows : m);
            ensureRows(rows);
            fillMetadata(chunks, m, rows, new int[rows], null);
            long rowBack = siblings == 0 ? 0 : rowBacks(rows, t, siblings, chunks.size());
            rowsWithFeatures = 0;
            QueuedPass.KvSlots slots = new QueuedPass.KvSlots(cache.keys(0), cache.values(0), cache.layerStride(),
                    cache.layers(), buf.rowTable(), buf.tables());
            QueuedPass pass = new QueuedPass(stream, buf.tokens(), buf.rowPos(), rowBack, buf.sampled.address(),
                    buf.x.address(), rows, t, siblings, chunks.size(), slots);
            Runnable work = () -> {
                forward(rows, rows, batchInvariant, rowBack, () -> follower.queueOnFeatures(pass));
                follower.queue(pass);
            };
            if (graphRows == 0 || profiler != null) {
                work.run();
            } else {
                List<Object> key = List.of(rows, siblings, follower.graphKey());
                CudaGraph g = followed.get(key);
                if (g != null) {
                    g.launch(stream);
                } else {
                    work.run(); // kernels are created on first use, which capture forbids
                    CudaGraph captured = capture(work);
                    if (captured != null) followed.put(key, captured);
                }
            }
            for (SequenceChunk c : chunks) cache.sequence(c.sequence()).length += t;
        }
    }

    /**
     * The device address of a draft-tree pass's {@code row_back} per row (chunk rows past the k chain drafts: k, every
     * other row 0, padding included), uploaded when the shape changes: the shape is fixed while a batch lives, so a
     * round uploads nothing for it.
     */
    private long rowBacks(int rows, int t, int siblings, int chunks) {
        TreeShape shape = new TreeShape(rows, t, siblings, chunks);
        if (!shape.equals(buf.backShape)) {
            int k = t - 1 - siblings;
            MemorySegment back = buf.hostBack;
            back.asSlice(0, 4L * rows).fill((byte) 0);
            for (int c = 0; c < chunks; c++) {
                for (int i = k + 1; i < t; i++) back.setAtIndex(ValueLayout.JAVA_INT, (long) c * t + i, k);
            }
            buf.meta.copyFromAsync(back.asSlice(0, 4L * rows), 4L * (8L * buf.cap + tableCap), stream);
            buf.backShape = shape;
        }
        return buf.rowBack();
    }

    /** A draft-tree pass's shape: padded rows, tokens and siblings per chunk, chunks. */
    private record TreeShape(int rows, int t, int siblings, int chunks) {}

    /** The stream every step runs on (work queued behind a pass goes here). */
    CudaStream stream() {
        return stream;
    }

    /** The argmax on the GPU ({@link #decode}): only the tokens come back. */
    @Override
    public int[] greedyStep(int[] sequences, int[] tokens) {
        if (sequences.length > Phase.DECODE_MAX_TOKENS) return ModelRunner.super.greedyStep(sequences, tokens);
        RowSampling[] greedy = new RowSampling[sequences.length];
        java.util.Arrays.fill(greedy, RowSampling.GREEDY);
        return decode(sequences, tokens, greedy);
    }

    /**
     * One decode step for {@code sequences} (one new token each), sampled on the GPU: only the sampled token ids come
     * back to the host. Uses the decode graphs when they are on.
     *
     * @return the next token of each sequence
     */
    public int[] decode(int[] sequences, int[] tokens, RowSampling[] sampling) {
        try (LaunchLedger.Scope scope = LaunchLedger.scope(role)) {
            return decodeInScope(sequences, tokens, sampling);
        }
    }

    private int[] decodeInScope(int[] sequences, int[] tokens, RowSampling[] sampling) {
        if (sequences.length != tokens.length || sequences.length != sampling.length) {
            throw new IllegalArgumentException("sequences, tokens and sampling must have one entry per row, got "
                    + sequences.length + ", " + tokens.length + ", " + sampling.length);
        }
        long entered = System.nanoTime();
        List<SequenceChunk> chunks = new java.util.ArrayList<>(sequences.length);
        for (int i = 0; i < sequences.length; i++) chunks.add(SequenceChunk.last(sequences[i], tokens[i]));
        int m = validate(chunks);
        if (m > Phase.DECODE_MAX_TOKENS) {
            throw new IllegalArgumentException("decode() takes at most " + Phase.DECODE_MAX_TOKENS + " sequences per step, got " + m
                    + "; split the batch");
        }
        int rows = invariantRows(useGraphs ? bucket(m) : m);
        ensureRows(rows);
        int[] logitRows = new int[rows];
        long timing = 0; // the timer's own event record is not the step's dispatch
        if (timer != null) {
            long t = System.nanoTime();
            timer.start();
            timing = System.nanoTime() - t;
        }
        fillMetadata(chunks, m, rows, logitRows, sampling);
        rowsWithFeatures = 0;
        run(rows, rows, useGraphs);
        if (timer != null) timer.stop(System.nanoTime() - entered - timing);
        buf.sampled.copyToAsync(buf.hostSampled.asSlice(0, 4L * m), stream);
        stream.synchronize();
        if (profiler != null) profiler.collect(lastMarks);
        if (timer != null) timer.collect();
        int[] out = new int[m];
        MemorySegment.copy(buf.hostSampled, ValueLayout.JAVA_INT, 0, out, 0, m);
        for (int s : sequences) cache.sequence(s).length += 1;
        return out;
    }

    /** {@code rows} rounded up to whole {@link #INVARIANT_ROWS} slices in batch-invariant mode, else as is. */
    private int invariantRows(int rows) {
        return batchInvariant ? (rows + INVARIANT_ROWS - 1) / INVARIANT_ROWS * INVARIANT_ROWS : rows;
    }

    /** The smallest of {@link #BUCKETS} that holds {@code m} sequences (rows of a decode step). */
    static int bucket(int m) {
        for (int b : BUCKETS) if (b >= m) return b;
        throw new IllegalArgumentException("no decode bucket for " + m + " rows");
    }

    private int validate(List<SequenceChunk> chunks) {
        if (chunks.isEmpty()) throw new IllegalArgumentException("a step needs at least one chunk");
        int m = 0;
        Set<Integer> seen = new HashSet<>();
        for (SequenceChunk c : chunks) {
            DeviceKvCache.Sequence s = cache.sequence(c.sequence());
            if (!seen.add(c.sequence())) {
                throw new IllegalArgumentException("sequence " + c.sequence() + " appears twice in one step; merge its chunks");
            }
            int[] ts = c.tokens();
            if (s.length + ts.length > s.capacity) {
                throw new IllegalArgumentException("sequence " + c.sequence() + " reserved " + s.capacity + " tokens and holds "
                        + s.length + "; " + ts.length + " more do not fit (open it with a larger maxTokens)");
            }
            for (int t : ts) {
                if (t < 0 || t >= vocab) throw new IllegalArgumentException("token id " + t + " outside the vocabulary [0, " + vocab + ")");
            }
            m += ts.length;
        }
        return m;
    }

    /**
     * Writes the step's row metadata into the host staging area and queues its upload: rows 0..m-1 are the chunks'
     * tokens, rows m..rows-1 padding. {@code logitRows} gets the rows whose logits are computed (filled here).
     */
    private void fillMetadata(List<SequenceChunk> chunks, int m, int rows, int[] logitRows, RowSampling[] sampling) {
        MemorySegment meta = buf.hostMeta;
        int cap = buf.cap;
        long tok = 0, pos = cap, table = 2L * cap, lrows = 3L * cap, topK = 4L * cap, params = 5L * cap, tables = 8L * cap;
        int tableUsed = 1;
        boolean everyRow = logitRows.length == rows; // decode / graph steps: logits (and samples) for every row
        meta.setAtIndex(ValueLayout.JAVA_INT, tables, 0); // padding rows' table: block 0
        int r = 0, lr = 0;
        for (SequenceChunk c : chunks) {
            DeviceKvCache.Sequence s = cache.sequence(c.sequence());
            int tableOffset = tableUsed;
            for (int b : s.blocks) meta.setAtIndex(ValueLayout.JAVA_INT, tables + tableUsed++, b);
            int[] ts = c.tokens();
            for (int j = 0; j < ts.length; j++, r++) {
                meta.setAtIndex(ValueLayout.JAVA_INT, tok + r, ts[j]);
                meta.setAtIndex(ValueLayout.JAVA_INT, pos + r, s.length + j);
                meta.setAtIndex(ValueLayout.JAVA_INT, table + r, tableOffset);
                if (!everyRow && (c.allLogits() || j == ts.length - 1)) logitRows[lr++] = r;
            }
        }
        for (; r < rows; r++) {
            meta.setAtIndex(ValueLayout.JAVA_INT, tok + r, 0);
            meta.setAtIndex(ValueLayout.JAVA_INT, pos + r, 0);
            meta.setAtIndex(ValueLayout.JAVA_INT, table + r, 0);
        }
        if (everyRow) for (int i = 0; i < rows; i++) logitRows[i] = i;
        for (int i = 0; i < logitRows.length; i++) {
            meta.setAtIndex(ValueLayout.JAVA_INT, lrows + i, logitRows[i]);
            RowSampling sm = sampling != null && i < sampling.length ? sampling[i] : RowSampling.GREEDY;
            meta.setAtIndex(ValueLayout.JAVA_INT, topK + i, Math.max(0, sm.topK()));
            meta.setAtIndex(ValueLayout.JAVA_FLOAT, params + 3L * i, sm.temperature());
            meta.setAtIndex(ValueLayout.JAVA_FLOAT, params + 3L * i + 1, sm.topP());
            meta.setAtIndex(ValueLayout.JAVA_FLOAT, params + 3L * i + 2, (float) Math.min(sm.u(), Math.nextDown(1f)));
        }
        buf.meta.copyFromAsync(meta.asSlice(0, 4L * (8L * cap + tableUsed)), stream);
    }

    private List<StepRegion> lastMarks = List.of();

    /** Queues the forward pass of {@code rows} rows, eagerly or through the bucket's graph. */
    private void run(int rows, int nLogits, boolean graph) {
        if (!graph) {
            forward(rows, nLogits);
            return;
        }
        Captured g = graphs.get(rows);
        if (g != null) {
            g.graph().launch(stream);
            lastMarks = g.marks();
            return;
        }
        // First step of this bucket: run it (kernels are created and weights uploaded on first use, which capture
        // forbids), then capture the same launch sequence for the next steps.
        forward(rows, nLogits);
        List<StepRegion> marks = lastMarks;
        CudaGraph captured = capture(() -> forward(rows, nLogits));
        if (captured == null) return;
        graphs.put(rows, new Captured(captured, marks));
        lastMarks = marks;
    }

    /**
     * Captures {@code work}, which the caller has just run eagerly; null when capture fails: that step's results
     * stand, graphs are off from then on, and the reason is said once.
     */
    private CudaGraph capture(Runnable work) {
        return capture(work, "decoding without graphs", why -> {
            graphFailure = why;
            useGraphs = false;
        });
    }

    /** {@link #capture(Runnable)} where a failure runs {@code off} (it turns the graphs it stands for off), said once. */
    private CudaGraph capture(Runnable work, String fallback, java.util.function.Consumer<String> off) {
        if (profiler != null) profiler.capturing(true);
        try {
            return CudaGraph.capture(stream, work);
        } catch (RuntimeException e) {
            off.accept(e.getMessage());
            System.err.println("moespec: CUDA graph capture failed, " + fallback + ": " + e.getMessage());
            return null;
        } finally {
            if (profiler != null) profiler.capturing(false);
        }
    }

    private void mark(StepRegion r) {
        if (profiler != null) profiler.mark(r);
    }

    /** The launch sequence of one step over the metadata already uploaded. */
    private void forward(int m, int nLogits) {
        forward(m, nLogits, batchInvariant, 0, null);
    }

    /**
     * {@link #forward(int, int)}, the MoE on decode-phase slices of {@link #INVARIANT_ROWS} when {@code moeSlices};
     * {@code rowBack} (0: none) a draft tree's per-row slot offsets ({@link #queueVerification}); {@code onFeatures}
     * (or null) queued once the last layer has written the features ({@link PassFollower#queueOnFeatures}).
     */
    private void forward(int m, int nLogits, boolean moeSlices, long rowBack, Runnable onFeatures) {
        long s = stream.handle();
        Buffers b = buf;
        if (profiler != null) profiler.begin();
        k.embed(s, m, b.tokens(), w.embed, b.x.address(), h);
        for (int l = 0; l < layers; l++) {
            DenseWeights.Layer lw = w.layers[l];
            k.rmsnorm(s, m, b.x.address(), l == 0 ? 0 : b.moeOut(), 0, lw.inputNorm(), eps, h, b.a(), 0);
            mark(StepRegion.OTHER);
            gemm(b.a(), Cublas.Type.BF16, lw.qkv(), Cublas.Type.BF16, b.qkv(), Cublas.Type.F32, m, qkvWidth, h, false);
            mark(StepRegion.DENSE_GEMM);
            k.qkvRopeAppend(s, m, b.qkv(), lw.qNorm(), lw.kNorm(), w.invFreq, b.rowPos(), rowBack, b.rowTable(), b.tables(),
                    eps, nH, nKV, d, b.q(), cache.keys(l), cache.values(l));
            k.attention(s, m, b.q(), cache.keys(l), cache.values(l), b.rowPos(), rowBack, b.rowTable(), b.tables(), nH, nKV,
                    d, scale, b.attn());
            mark(StepRegion.ATTENTION);
            // O projection accumulated straight into the residual stream
            gemm(b.attn(), Cublas.Type.BF16, lw.o(), Cublas.Type.BF16, b.x.address(), Cublas.Type.F32, m, h, nH * d, true);
            mark(StepRegion.DENSE_GEMM);
            if (fusedRouter) {
                // norm and router in one kernel: cuBLAS would take a GEMV at one row but split-K plus a reduction at
                // two or more, so a verification pass would pay two more launches per layer than a decode step
                k.hlNormRouter(s, m, b.x.address(), lw.postNorm(), eps, h, lw.router(), experts, b.router(), b.a());
            } else {
                k.rmsnorm(s, m, b.x.address(), 0, 0, lw.postNorm(), eps, h, b.a(), b.bF32());
                mark(StepRegion.OTHER);
                gemm(b.bF32(), Cublas.Type.F32, lw.router(), Cublas.Type.F32, b.router(), Cublas.Type.F32, m, experts, h, false);
            }
            mark(StepRegion.DENSE_GEMM);
            moe(l, m, s, moeSlices);
            mark(StepRegion.MOE);
        }
        k.addBf16(s, b.x.address(), b.moeOut(), (long) m * h);
        if (onFeatures != null) onFeatures.run();
        k.rmsnorm(s, nLogits, b.x.address(), 0, b.logitRows(), w.finalNorm, eps, h, b.hn(), 0);
        mark(StepRegion.OTHER);
        gemm(b.hn(), Cublas.Type.BF16, w.lmHead, Cublas.Type.BF16, b.logits.address(), Cublas.Type.F32, nLogits, vocab, h, false);
        mark(StepRegion.DENSE_GEMM);
        k.sample(s, nLogits, b.logits.address(), vocab, b.params(), b.topK(), b.sampled.address());
        mark(StepRegion.SAMPLING);
        if (profiler != null) lastMarks = profiler.marks();
    }

    /**
     * Row-major {@code C[m,n] (+)= A[m,k]·B[n,k]ᵀ} through cuBLAS: one call, or in batch-invariant mode one call per
     * {@link #INVARIANT_ROWS}-row slice (m is a multiple of it then), so every row meets the same cuBLAS kernel.
     */
    private void gemm(long a, Cublas.Type aType, long b, Cublas.Type bType, long c, Cublas.Type cType, int m, int n, int k,
                      boolean accumulate) {
        if (!batchInvariant) {
            blas.gemm(a, aType, b, bType, c, cType, m, n, k, accumulate);
            return;
        }
        for (int from = 0; from < m; from += INVARIANT_ROWS) {
            blas.gemm(a + (long) from * k * aType.bytes(), aType, b, bType, c + (long) from * n * cType.bytes(), cType,
                    INVARIANT_ROWS, n, k, accumulate);
        }
    }

    /**
     * The MoE block through the role's kernel, in slices of at most the layer's {@code maxTokens} rows, or with
     * {@code slices} (batch-invariant mode, prefill graphs) decode-phase kernels on slices of {@link #INVARIANT_ROWS}.
     */
    private void moe(int l, int m, long s, boolean slices) {
        Buffers b = buf;
        for (int from = 0; from < m; ) {
            MoeKernel kernel = moeKernel(l, slices ? INVARIANT_ROWS : m - from);
            MoeLayerSpec spec = kernel.layer();
            int rows = Math.min(slices ? INVARIANT_ROWS : spec.maxTokens(), m - from);
            kernel.forward(Tensor.device(DType.BF16, b.a() + 2L * from * h, rows, h),
                    Tensor.device(DType.F32, b.router() + 4L * from * experts, rows, experts),
                    Tensor.device(DType.BF16, b.moeOut() + 2L * from * h, rows, h), s);
            from += rows;
        }
    }

    /** The role's kernel for layer {@code l} and a call of {@code tokens} rows; created (weights uploaded) on first use. */
    private MoeKernel moeKernel(int l, int tokens) {
        MoeKernel kernel;
        try {
            kernel = moe.kernel(l, tokens, spec -> MoeWeightsFactory.build(checkpoint, naming, l, spec, moeWeightsArena));
        } catch (MoeKernelUnavailableException e) {
            throw new IllegalStateException("MoE layer " + l + ": " + e.getMessage(), e);
        }
        if (kernel.backend().equals(CpuReferenceBackendProvider.NAME)) {
            throw new IllegalStateException("MoE layer " + l + ": the role's binding chose " + kernel.backend() + ", which runs on"
                    + " host memory; the CUDA runner needs a GPU backend (pin --moe-backend flashinfer_trtllm for FP8 or"
                    + " triton), or run with --device cpu");
        }
        return kernel;
    }

    private void ensureRows(int rows) {
        if (rows <= buf.cap) return;
        // bigger activations move every pointer a captured graph holds: drop the graphs
        dropGraphs();
        buf.close();
        buf = new Buffers(Math.max(rows, 2 * buf.cap));
    }

    private void dropGraphs() {
        graphs.values().forEach(g -> g.graph().close());
        graphs.clear();
        followed.values().forEach(CudaGraph::close);
        followed.clear();
        prefillGraphs.values().forEach(CudaGraph::close);
        prefillGraphs.clear();
    }

    /** Device activations and row metadata for {@code cap} rows, with their host staging. */
    private final class Buffers implements AutoCloseable {
        final int cap;
        final DeviceBuffer act, meta, x, logits, sampled;
        final MemorySegment hostMeta, hostLogits, hostX, hostSampled, hostBack;
        final PinnedHostMemory pinned;
        /** The draft-tree shape whose row_back the device holds (rowBacks), or null. */
        TreeShape backShape;
        private final long aOff, bOff, qkvOff, qOff, attnOff, routerOff, moeOff, hnOff;

        Buffers(int cap) {
            this.cap = cap;
            long off = 0;
            aOff = off;
            off = align(off + 2L * cap * h);
            bOff = off;
            off = align(off + 4L * cap * h);
            qkvOff = off;
            off = align(off + 4L * cap * qkvWidth);
            qOff = off;
            off = align(off + 4L * cap * nH * d);
            attnOff = off;
            off = align(off + 2L * cap * nH * d);
            routerOff = off;
            off = align(off + 4L * cap * experts);
            moeOff = off;
            off = align(off + 2L * cap * h);
            hnOff = off;
            off = align(off + 2L * cap * h);
            act = DeviceBuffer.alloc(ctx, off);
            // per-step blocks, the block tables, then a draft tree's row_back (uploaded apart: it rarely changes)
            long metaBytes = 4L * (8L * cap + tableCap + cap);
            meta = DeviceBuffer.alloc(ctx, metaBytes);
            x = DeviceBuffer.alloc(ctx, 4L * cap * h);
            logits = DeviceBuffer.alloc(ctx, 4L * cap * vocab);
            sampled = DeviceBuffer.alloc(ctx, 4L * cap);
            // the per-step metadata and sampled tokens: page-locked, so their copies are asynchronous DMA
            pinned = PinnedHostMemory.alloc(ctx, metaBytes + 4L * cap + 64);
            hostMeta = pinned.segment().asSlice(0, metaBytes);
            hostBack = hostMeta.asSlice(4L * (8L * cap + tableCap), 4L * cap);
            hostSampled = pinned.segment().asSlice(align64(metaBytes), 4L * cap);
            hostLogits = arena.allocate(4L * cap * vocab, 64);
            hostX = arena.allocate(4L * cap * h, 64);
        }

        private static long align64(long n) {
            return (n + 63) / 64 * 64;
        }

        private static long align(long n) {
            return (n + ALIGN - 1) / ALIGN * ALIGN;
        }

        long a() { return act.address() + aOff; }
        long bF32() { return act.address() + bOff; }
        long qkv() { return act.address() + qkvOff; }
        long q() { return act.address() + qOff; }
        long attn() { return act.address() + attnOff; }
        long router() { return act.address() + routerOff; }
        long moeOut() { return act.address() + moeOff; }
        long hn() { return act.address() + hnOff; }
        long tokens() { return meta.address(); }
        long rowPos() { return meta.address() + 4L * cap; }
        long rowTable() { return meta.address() + 8L * cap; }
        long logitRows() { return meta.address() + 12L * cap; }
        long topK() { return meta.address() + 16L * cap; }
        long params() { return meta.address() + 20L * cap; }
        long tables() { return meta.address() + 32L * cap; }
        long rowBack() { return meta.address() + 4L * (8L * cap + tableCap); }

        @Override
        public void close() {
            pinned.close();
            act.close();
            meta.close();
            x.close();
            logits.close();
            sampled.close();
        }
    }

    @Override
    public void close() {
        if (ctx.isClosed()) return;
        try {
            closeDevice();
        } finally {
            checkpoint.close();
        }
    }

    private void closeDevice() {
        try {
            stream.synchronize();
        } finally {
            dropGraphs();
            if (profiler != null) profiler.close();
            if (timer != null) timer.close();
            buf.close();
            cache.close();
            w.close();
            blas.close();
            ctx.close();
            arena.close();
            if (moeWeightsArena.scope().isAlive()) moeWeightsArena.close();
        }
    }
}
