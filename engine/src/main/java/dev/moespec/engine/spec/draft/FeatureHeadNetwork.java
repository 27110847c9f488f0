package dev.moespec.engine.spec.draft;

import dev.moespec.api.config.ModelConfig;
import dev.moespec.api.proposer.DraftChunk;
import dev.moespec.api.proposer.DraftNetwork;
import dev.moespec.api.proposer.DraftNetworkKind;
import dev.moespec.api.proposer.DraftOutput;
import dev.moespec.engine.loader.Checkpoint;
import dev.moespec.engine.loader.CheckpointException;
import dev.moespec.engine.loader.CheckpointLayout;
import dev.moespec.engine.loader.MoeDecoderLayout;
import dev.moespec.engine.model.DecoderLayer;
import dev.moespec.engine.model.DenseSwiGlu;
import dev.moespec.engine.model.HostWeights;
import dev.moespec.engine.model.KvCache;
import dev.moespec.engine.model.Linear;
import dev.moespec.engine.model.MoeBlock;
import dev.moespec.engine.model.Ops;
import dev.moespec.engine.wiring.MoeKernels;

import java.lang.foreign.Arena;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The EAGLE head (FORMAT.md §5.1) and the MTP layer (§5.2) on the CPU: a causal one-layer transformer over entries
 * {@code (token, feature)} with its own KV cache. They differ only in how an entry becomes the layer input and in
 * the layer's feed-forward: EAGLE {@code concat(embed, f)·fcᵀ} and a dense SwiGLU; MTP
 * {@code concat(rms_enorm(embed), rms_hnorm(f))·eh_projᵀ} and an MoE block on the draft role's kernels. Embeddings
 * and {@code lm_head} (and for EAGLE the final norm) are the target's.
 */
public final class FeatureHeadNetwork implements DraftNetwork {
    private static final Pattern MTP_EH_PROJ = Pattern.compile("model\\.layers\\.(\\d+)\\.eh_proj\\.weight");

    private final DraftNetworkKind kind;
    private final Checkpoint head;
    private final Arena arena = Arena.ofShared();
    private final float[] embed;
    private final Linear lmHead;
    private final float[] outNorm;
    private final Linear combine;
    private final float[] enorm, hnorm;  // MTP only
    private final DecoderLayer layer;
    private final MoeBlock moeBlock;     // MTP only
    private final KvCache cache;
    private final String moeBackend;
    private final int h, vocab;
    private final float eps;

    private FeatureHeadNetwork(DraftNetworkKind kind, Checkpoint head, Checkpoint target, String prefix,
                               MoeKernels moe, long kvCacheBytes) {
        this.kind = kind;
        this.head = head;
        ModelConfig t = target.config(), c = head.config();
        h = t.hiddenSize();
        vocab = t.vocabSize();
        eps = (float) c.rmsNormEps();
        embed = HostWeights.vector(target, "model.embed_tokens.weight");
        lmHead = new Linear(HostWeights.vector(target, "lm_head.weight"), vocab, h);
        int nH = c.numAttentionHeads(), nKV = c.numKeyValueHeads(), d = c.headDim();
        DecoderLayer.Mlp mlp;
        if (kind == DraftNetworkKind.EAGLE) {
            outNorm = HostWeights.vector(target, "model.norm.weight");
            combine = new Linear(HostWeights.matrix(head, "fc.weight"), h, 2 * h);
            enorm = hnorm = null;
            int inter = c.intermediateSize();
            mlp = new DenseSwiGlu(new Linear(HostWeights.matrix(head, prefix + "mlp.gate_proj.weight"), inter, h),
                    new Linear(HostWeights.matrix(head, prefix + "mlp.up_proj.weight"), inter, h),
                    new Linear(HostWeights.matrix(head, prefix + "mlp.down_proj.weight"), h, inter));
            moeBackend = "none (dense head)";
            moeBlock = null;
        } else {
            outNorm = HostWeights.vector(head, prefix + "shared_head.norm.weight");
            combine = new Linear(HostWeights.matrix(head, prefix + "eh_proj.weight"), h, 2 * h);
            enorm = HostWeights.vector(head, prefix + "enorm.weight");
            hnorm = HostWeights.vector(head, prefix + "hnorm.weight");
            int index = Integer.parseInt(prefix.split("\\.")[2]);
            moeBlock = new MoeBlock(head, MoeDecoderLayout.Naming.QWEN3_MOE, index, 0, moe.layer(), moe, arena);
            mlp = moeBlock;
            moeBackend = moe.describe();
        }
        boolean qk = head.has(prefix + "self_attn.q_norm.weight");
        layer = new DecoderLayer(h, nH, nKV, d, eps, c.ropeTheta(),
                HostWeights.vector(head, prefix + "input_layernorm.weight"),
                HostWeights.vector(head, prefix + "post_attention_layernorm.weight"),
                new Linear(HostWeights.matrix(head, prefix + "self_attn.q_proj.weight"), nH * d, h),
                new Linear(HostWeights.matrix(head, prefix + "self_attn.k_proj.weight"), nKV * d, h),
                new Linear(HostWeights.matrix(head, prefix + "self_attn.v_proj.weight"), nKV * d, h),
                new Linear(HostWeights.matrix(head, prefix + "self_attn.o_proj.weight"), h, nH * d),
                qk ? HostWeights.vector(head, prefix + "self_attn.q_norm.weight") : null,
                qk ? HostWeights.vector(head, prefix + "self_attn.k_norm.weight") : null, mlp);
        cache = new KvCache(1, nKV * d, kvCacheBytes);
    }

    /**
     * For the MTP layer, how close the last forward's last entry came to a routing tie ({@link MoeBlock#lastRoutingGap});
     * empty for the dense EAGLE head. Tests comparing another implementation against this one use it.
     */
    public java.util.OptionalDouble lastRoutingGap() {
        return moeBlock == null ? java.util.OptionalDouble.empty() : java.util.OptionalDouble.of(moeBlock.lastRoutingGap());
    }

    /** The EAGLE head in {@code headDir} over the target in {@code targetDir}. */
    public static FeatureHeadNetwork eagle(Path headDir, Path targetDir, long kvCacheBytes) {
        return open(DraftNetworkKind.EAGLE, headDir, targetDir, null, kvCacheBytes);
    }

    /** The MTP layer in {@code mtpDir} (a sibling checkpoint or the target itself), its MoE on {@code moe}. */
    public static FeatureHeadNetwork mtp(Path mtpDir, Path targetDir, MoeKernels moe, long kvCacheBytes) {
        return open(DraftNetworkKind.MTP, mtpDir, targetDir, moe, kvCacheBytes);
    }

    private static FeatureHeadNetwork open(DraftNetworkKind kind, Path headDir, Path targetDir, MoeKernels moe,
                                           long kvCacheBytes) {
        Checkpoint head = Checkpoint.open(headDir, CheckpointLayout.ANY);
        try (Checkpoint target = Checkpoint.open(targetDir, CheckpointLayout.ANY)) {
            return new FeatureHeadNetwork(kind, head, target, prefix(kind, head), moe, kvCacheBytes);
        } catch (RuntimeException e) {
            head.close();
            throw e;
        }
    }

    /** The tensor prefix of the head's one layer: {@code layers.0.} (EAGLE) or {@link #mtpPrefix} (MTP). */
    static String prefix(DraftNetworkKind kind, Checkpoint head) {
        return kind == DraftNetworkKind.EAGLE ? "layers.0." : mtpPrefix(head);
    }

    /** {@code model.layers.N.} of the one MTP layer the checkpoint holds (N = the target's layer count). */
    static String mtpPrefix(Checkpoint c) {
        Set<String> found = new HashSet<>();
        for (String name : c.names()) {
            Matcher m = MTP_EH_PROJ.matcher(name);
            if (m.matches()) found.add(m.group(1));
        }
        if (found.size() != 1) {
            throw new CheckpointException(c.config().path(), "model.layers.N.eh_proj.weight", "an MTP checkpoint needs"
                    + " exactly one layer with an eh_proj, found " + found.size() + "; pass the MTP checkpoint as \"model\"");
        }
        return "model.layers." + found.iterator().next() + ".";
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

    @Override
    public DraftOutput forward(List<DraftChunk> chunks) {
        int m = 0;
        for (DraftChunk c : chunks) {
            if (c.features() == null) {
                throw new IllegalArgumentException(kind + " entries need a target feature per token; got tokens only");
            }
            m += c.tokens().length;
        }
        int[] rowSeq = new int[m], rowPos = new int[m];
        float[] in = new float[m * 2 * h];
        int r = 0;
        for (DraftChunk c : chunks) {
            int start = cache.length(c.sequence());
            for (int j = 0; j < c.tokens().length; j++, r++) {
                rowSeq[r] = c.sequence();
                rowPos[r] = start + j;
                System.arraycopy(embed, c.tokens()[j] * h, in, r * 2 * h, h);
                System.arraycopy(c.features()[j], 0, in, r * 2 * h + h, h);
                if (enorm != null) {
                    Ops.rmsnorm(in, r * 2 * h, h, enorm, eps);
                    Ops.rmsnorm(in, r * 2 * h + h, h, hnorm, eps);
                }
            }
        }
        float[] z = combine.apply(in, m);
        float[] o = layer.forward(z, m, rowSeq, rowPos, cache, 0);
        float[][] logits = new float[chunks.size()][], hidden = new float[chunks.size()][];
        int row = 0;
        for (int c = 0; c < chunks.size(); c++) {
            DraftChunk chunk = chunks.get(c);
            cache.advance(chunk.sequence(), chunk.tokens().length);
            row += chunk.tokens().length;
            hidden[c] = java.util.Arrays.copyOfRange(o, (row - 1) * h, row * h);
            float[] normed = hidden[c].clone();
            Ops.rmsnorm(normed, 0, h, outNorm, eps);
            logits[c] = lmHead.apply(normed, 1);
        }
        return new DraftOutput(logits, hidden);
    }

    @Override
    public String moeBackend() {
        return moeBackend;
    }

    @Override
    public void close() {
        if (arena.scope().isAlive()) arena.close();
        head.close();
    }
}
