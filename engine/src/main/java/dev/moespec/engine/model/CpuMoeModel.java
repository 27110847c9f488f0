package dev.moespec.engine.model;

import dev.moespec.api.config.ModelConfig;
import dev.moespec.api.tensor.DType;
import dev.moespec.api.tensor.HostTensors;
import dev.moespec.api.tensor.Tensor;
import dev.moespec.engine.loader.Checkpoint;
import dev.moespec.engine.loader.CheckpointLayout;
import dev.moespec.engine.loader.MoeDecoderLayout;
import dev.moespec.moe.MoeKernel;
import dev.moespec.moe.MoeKernelUnavailableException;
import dev.moespec.moe.MoeLayerSpec;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.HashSet;
import java.util.List;
import java.util.Objects;
import java.util.Set;
import java.util.stream.IntStream;

/**
 * The CPU forward pass of a decoder-only MoE transformer (Qwen3-MoE, Mixtral), FORMAT.md §4.4: embeddings,
 * per layer RMSNorm → GQA attention (q/k norm per head before RoPE, Qwen3 only) over a paged KV cache → residual →
 * RMSNorm → router → MoE through the {@link MoeKernelSource} (the role's binding) → residual; final norm, lm_head.
 * Dense math is fp32 on host arrays (FP8 dense weights dequantised once); every row is computed independently, so
 * a sequence's logits do not depend on what it is batched with.
 */
public final class CpuMoeModel implements ModelRunner {
    private static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private final Checkpoint checkpoint;
    private final ModelConfig cfg;
    private final MoeDecoderLayout.Naming naming;
    private final MoeLayerSpec moeLayer;
    private final MoeKernelSource moe;
    private final KvCache cache;
    private final Arena weightsArena = Arena.ofShared();
    private final float[] embed;
    private final Linear lmHead;
    private final float[] finalNorm;
    private final Layer[] layers;
    private final float[] invFreq;
    private final int h, nH, nKV, d, vocab;
    private final float eps;
    private LayerTap tap = LayerTap.NONE;

    /** Observes each layer's output rows (for bisecting against golden debug values). */
    @FunctionalInterface
    public interface LayerTap {
        LayerTap NONE = (layer, rows, routerLogits, output) -> {};

        void afterLayer(int layer, int rows, float[] routerLogits, float[] output);
    }

    private record Layer(float[] inputNorm, float[] postNorm, Linear q, Linear k, Linear v, Linear o,
                         float[] qNorm, float[] kNorm, Linear router) {}

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
        this.naming = ((MoeDecoderLayout) CheckpointLayout.of(cfg)).naming();
        this.moeLayer = Objects.requireNonNull(moeLayer, "moeLayer");
        this.moe = Objects.requireNonNull(moe, "moe");
        h = cfg.hiddenSize();
        nH = cfg.numAttentionHeads();
        nKV = cfg.numKeyValueHeads();
        d = cfg.headDim();
        vocab = cfg.vocabSize();
        eps = (float) cfg.rmsNormEps();
        embed = HostWeights.vector(checkpoint, naming.embed());
        finalNorm = HostWeights.vector(checkpoint, naming.finalNorm());
        lmHead = new Linear(cfg.tieWordEmbeddings() ? embed : HostWeights.vector(checkpoint, naming.lmHead()), vocab, h);
        layers = new Layer[cfg.numHiddenLayers()];
        for (int i = 0; i < layers.length; i++) {
            layers[i] = new Layer(HostWeights.vector(checkpoint, naming.inputNorm(i)),
                    HostWeights.vector(checkpoint, naming.postAttnNorm(i)),
                    linear(naming.attn(i, "q"), nH * d, h), linear(naming.attn(i, "k"), nKV * d, h),
                    linear(naming.attn(i, "v"), nKV * d, h), linear(naming.attn(i, "o"), h, nH * d),
                    naming.hasQkNorm() ? HostWeights.vector(checkpoint, naming.qNorm(i)) : null,
                    naming.hasQkNorm() ? HostWeights.vector(checkpoint, naming.kNorm(i)) : null,
                    linear(naming.router(i), cfg.numExperts(), h));
        }
        invFreq = Ops.invFreq(d, cfg.ropeTheta());
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
        if (maxTokens > cfg.maxPositionEmbeddings()) {
            throw new IllegalArgumentException("a sequence of " + maxTokens + " tokens exceeds max_position_embeddings "
                    + cfg.maxPositionEmbeddings() + " of " + cfg.configFile() + "; shorten the prompt or --max-tokens");
        }
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
        for (int l = 0; l < layers.length; l++) x = layer(l, x, m, rowSeq, rowPos);
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

    private float[] layer(int l, float[] x, int m, int[] rowSeq, int[] rowPos) {
        Layer w = layers[l];
        float[] a = Ops.rmsnormRows(x, m, h, w.inputNorm, eps);
        float[] q = w.q.apply(a, m), k = w.k.apply(a, m), v = w.v.apply(a, m);
        float[] keys = cache.keys(l), values = cache.values(l);
        int kvw = nKV * d;
        for (int row = 0; row < m; row++) {
            for (int head = 0; head < nH; head++) {
                int off = row * nH * d + head * d;
                if (w.qNorm != null) Ops.rmsnorm(q, off, d, w.qNorm, eps);
                Ops.rope(q, off, d, invFreq, rowPos[row]);
            }
            for (int g = 0; g < nKV; g++) {
                int off = row * kvw + g * d;
                if (w.kNorm != null) Ops.rmsnorm(k, off, d, w.kNorm, eps);
                Ops.rope(k, off, d, invFreq, rowPos[row]);
            }
            int slot = cache.sequence(rowSeq[row]).slot(rowPos[row]);
            System.arraycopy(k, row * kvw, keys, slot * kvw, kvw);
            System.arraycopy(v, row * kvw, values, slot * kvw, kvw);
        }
        float[] o = new float[m * nH * d];
        int group = nH / nKV;
        float scale = (float) (1.0 / Math.sqrt(d));
        IntStream.range(0, m * nH).parallel().forEach(job -> {
            int row = job / nH, head = job % nH, g = head / group, p = rowPos[row];
            KvCache.Sequence s = cache.sequence(rowSeq[row]);
            float[] scores = new float[p + 1];
            int qOff = row * nH * d + head * d;
            float max = Float.NEGATIVE_INFINITY;
            for (int u = 0; u <= p; u++) {
                int kOff = s.slot(u) * kvw + g * d;
                float dot = 0f;
                for (int c = 0; c < d; c++) dot += q[qOff + c] * keys[kOff + c];
                scores[u] = dot * scale;
                max = Math.max(max, scores[u]);
            }
            float sum = 0f;
            for (int u = 0; u <= p; u++) sum += scores[u] = (float) Math.exp(scores[u] - max);
            for (int u = 0; u <= p; u++) {
                float pr = scores[u] / sum;
                int vOff = s.slot(u) * kvw + g * d;
                for (int c = 0; c < d; c++) o[qOff + c] += pr * values[vOff + c];
            }
        });
        float[] y = w.o.apply(o, m);
        for (int n = 0; n < y.length; n++) y[n] += x[n];
        float[] b = Ops.rmsnormRows(y, m, h, w.postNorm, eps);
        float[] router = w.router.apply(b, m);
        float[] f = moe(l, b, router, m);
        for (int n = 0; n < y.length; n++) y[n] += f[n];
        tap.afterLayer(l, m, router, y);
        return y;
    }

    /** The MoE block through the role's kernel, in slices of at most {@code maxTokens} rows. */
    private float[] moe(int l, float[] b, float[] router, int m) {
        float[] out = new float[m * h];
        int e = cfg.numExperts();
        for (int from = 0; from < m; from += moeLayer.maxTokens()) {
            int rows = Math.min(moeLayer.maxTokens(), m - from);
            MoeKernel kernel;
            try {
                kernel = moe.kernel(l, rows, spec -> MoeWeightsFactory.build(checkpoint, naming, l, spec, weightsArena));
            } catch (MoeKernelUnavailableException ex) {
                throw new IllegalStateException("MoE layer " + l + ": " + ex.getMessage(), ex);
            }
            try (Arena arena = Arena.ofConfined()) {
                Tensor hidden = floats(arena, b, from * h, rows, h);
                Tensor logits = floats(arena, router, from * e, rows, e);
                Tensor result = HostTensors.allocate(arena, DType.F32, rows, h);
                kernel.forward(hidden, logits, result, 0L);
                MemorySegment.copy(result.data(), F32, 0, out, from * h, rows * h);
            }
        }
        return out;
    }

    private static Tensor floats(Arena arena, float[] src, int offset, int rows, int cols) {
        Tensor t = HostTensors.allocate(arena, DType.F32, rows, cols);
        MemorySegment.copy(src, offset, t.data(), F32, 0, rows * cols);
        return t;
    }

    @Override
    public void close() {
        if (weightsArena.scope().isAlive()) weightsArena.close();
        checkpoint.close();
    }
}
