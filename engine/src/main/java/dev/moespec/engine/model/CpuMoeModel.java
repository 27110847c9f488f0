package dev.moespec.engine.model;

import dev.moespec.api.config.ModelConfig;
import dev.moespec.engine.loader.Checkpoint;
import dev.moespec.engine.loader.CheckpointLayout;
import dev.moespec.engine.loader.MoeDecoderLayout;
import dev.moespec.moe.MoeLayerSpec;

import java.lang.foreign.Arena;
import java.util.HashSet;
import java.util.List;
import java.util.Objects;
import java.util.Set;

/**
 * The CPU forward pass of a decoder-only MoE transformer (Qwen3-MoE, Mixtral), FORMAT.md §4.4: embeddings,
 * per layer RMSNorm → GQA attention (q/k norm per head before RoPE, Qwen3 only) over a paged KV cache → residual →
 * RMSNorm → router → MoE through the {@link MoeKernelSource} (the role's binding) → residual; final norm, lm_head.
 * Dense math is fp32 on host arrays (FP8 dense weights dequantised once); every row is computed independently, so
 * a sequence's logits do not depend on what it is batched with.
 */
public final class CpuMoeModel implements ModelRunner {

    private final Checkpoint checkpoint;
    private final ModelConfig cfg;
    private final KvCache cache;
    private final Arena weightsArena = Arena.ofShared();
    private final float[] embed;
    private final Linear lmHead;
    private final float[] finalNorm;
    private final DecoderLayer[] layers;
    private final MoeBlock[] moeBlocks;
    private final MoeKernelSource moe;
    private final int h, vocab;
    private final float eps;
    private LayerTap tap = LayerTap.NONE;

    /** Observes each layer's output rows (for bisecting against golden debug values). */
    @FunctionalInterface
    public interface LayerTap {
        LayerTap NONE = (layer, rows, routerLogits, output) -> {};

        void afterLayer(int layer, int rows, float[] routerLogits, float[] output);
    }

    /**
     * Builds the model over an open checkpoint (which it then owns and closes).
     *
     * @param moeLayer       the MoE layer spec the kernels were made for
     * @param moe            where each layer's MoE kernel comes from
     * @param kvCacheBytes   the KV-cache memory budget
     */
    public CpuMoeModel(Checkpoint checkpoint, MoeLayerSpec moeLayer, MoeKernelSource moe, long kvCacheBytes) {
        this.checkpoint = Objects.requireNonNull(checkpoint, "checkpoint");
        this.cfg = checkpoint.config();
        MoeDecoderLayout.Naming naming = ((MoeDecoderLayout) CheckpointLayout.of(cfg)).naming();
        Objects.requireNonNull(moeLayer, "moeLayer");
        this.moe = Objects.requireNonNull(moe, "moe");
        h = cfg.hiddenSize();
        int nH = cfg.numAttentionHeads(), nKV = cfg.numKeyValueHeads(), d = cfg.headDim();
        vocab = cfg.vocabSize();
        eps = (float) cfg.rmsNormEps();
        embed = HostWeights.vector(checkpoint, naming.embed());
        finalNorm = HostWeights.vector(checkpoint, naming.finalNorm());
        lmHead = new Linear(cfg.tieWordEmbeddings() ? embed : HostWeights.vector(checkpoint, naming.lmHead()), vocab, h);
        layers = new DecoderLayer[cfg.numHiddenLayers()];
        moeBlocks = new MoeBlock[layers.length];
        for (int i = 0; i < layers.length; i++) {
            moeBlocks[i] = new MoeBlock(checkpoint, naming, i, i, moeLayer, moe, weightsArena);
            layers[i] = new DecoderLayer(h, nH, nKV, d, eps, cfg.ropeTheta(),
                    HostWeights.vector(checkpoint, naming.inputNorm(i)),
                    HostWeights.vector(checkpoint, naming.postAttnNorm(i)),
                    linear(naming.attn(i, "q"), nH * d, h), linear(naming.attn(i, "k"), nKV * d, h),
                    linear(naming.attn(i, "v"), nKV * d, h), linear(naming.attn(i, "o"), h, nH * d),
                    naming.hasQkNorm() ? HostWeights.vector(checkpoint, naming.qNorm(i)) : null,
                    naming.hasQkNorm() ? HostWeights.vector(checkpoint, naming.kNorm(i)) : null,
                    moeBlocks[i]);
        }
        cache = new KvCache(layers.length, nKV * d, kvCacheBytes);
    }

    private Linear linear(String name, int out, int in) {
        return new Linear(HostWeights.matrix(checkpoint, name), out, in);
    }

    public void setTap(LayerTap tap) {
        this.tap = Objects.requireNonNull(tap, "tap");
    }

    public KvCache cache() {
        return cache;
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
        return "cpu";
    }

    @Override
    public StepOutput step(List<SequenceChunk> chunks) {
        int m = 0;
        Set<Integer> seen = new HashSet<>();
        for (SequenceChunk c : chunks) {
            KvCache.Sequence s = cache.sequence(c.sequence());
            if (!seen.add(c.sequence())) {
                throw new IllegalArgumentException("sequence " + c.sequence() + " appears twice in one step; merge its chunks");
            }
            if (s.length + c.tokens().length > s.capacity) {
                throw new IllegalArgumentException("sequence " + c.sequence() + " reserved " + s.capacity + " tokens and holds "
                        + s.length + "; " + c.tokens().length + " more do not fit (open it with a larger maxTokens)");
            }
            for (int t : c.tokens()) {
                if (t < 0 || t >= vocab) throw new IllegalArgumentException("token id " + t + " outside the vocabulary [0, " + vocab + ")");
            }
            m += c.tokens().length;
        }
        // row r: which sequence, which absolute position
        int[] rowSeq = new int[m], rowPos = new int[m], tokens = new int[m];
        int r = 0;
        for (SequenceChunk c : chunks) {
            int start = cache.sequence(c.sequence()).length;
            int[] ts = c.tokens();
            for (int j = 0; j < ts.length; j++, r++) {
                rowSeq[r] = c.sequence();
                rowPos[r] = start + j;
                tokens[r] = ts[j];
            }
        }
        float[] x = new float[m * h];
        for (int row = 0; row < m; row++) System.arraycopy(embed, tokens[row] * h, x, row * h, h);
        for (int l = 0; l < layers.length; l++) {
            x = layers[l].forward(x, m, rowSeq, rowPos, cache, l);
            tap.afterLayer(l, m, moeBlocks[l].lastRouterLogits(), x);
        }
        for (SequenceChunk c : chunks) cache.sequence(c.sequence()).length += c.tokens().length;
        return output(chunks, x);
    }

    private StepOutput output(List<SequenceChunk> chunks, float[] hRows) {
        float[][] logits = new float[chunks.size()][];
        float[][] features = new float[chunks.size()][];
        int row = 0;
        for (int c = 0; c < chunks.size(); c++) {
            SequenceChunk chunk = chunks.get(c);
            int n = chunk.tokens().length, first = chunk.allLogits() ? row : row + n - 1, count = chunk.allLogits() ? n : 1;
            features[c] = java.util.Arrays.copyOfRange(hRows, row * h, (row + n) * h);
            float[] normed = Ops.rmsnormRows(java.util.Arrays.copyOfRange(hRows, first * h, (first + count) * h), count, h, finalNorm, eps);
            logits[c] = lmHead.apply(normed, count);
            row += n;
        }
        return new StepOutput(vocab, h, logits, features);
    }

    @Override
    public void close() {
        if (weightsArena.scope().isAlive()) weightsArena.close();
        checkpoint.close();
    }
}
