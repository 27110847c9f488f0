package dev.moespec.engine.model;

import java.util.stream.IntStream;

/**
 * One pre-norm decoder layer of FORMAT.md §4.4 over a paged {@link KvCache}: RMSNorm → GQA attention (optional
 * per-head q/k RMSNorm before RoPE, Qwen3) → residual → RMSNorm → MLP (an MoE block or a dense SwiGLU) → residual.
 * Shared by the target and draft models and by the EAGLE / MTP heads, so all of them run the same attention code.
 * fp32, rows independent.
 */
public final class DecoderLayer {

    /** The feed-forward half: {@code b[m, H]} (post-attention normed) → {@code [m, H]}. */
    @FunctionalInterface
    public interface Mlp {
        float[] apply(float[] b, int m);
    }

    private final float[] inputNorm, postNorm, qNorm, kNorm, invFreq;
    private final Linear q, k, v, o;
    private final Mlp mlp;
    private final int h, nH, nKV, d;
    private final float eps;

    /**
     * @param qNorm per-head q norm weight {@code [d]}, or null (Llama attention)
     * @param kNorm per-head k norm weight {@code [d]}, or null
     */
    public DecoderLayer(int hidden, int heads, int kvHeads, int headDim, float eps, double ropeTheta,
                        float[] inputNorm, float[] postNorm, Linear q, Linear k, Linear v, Linear o,
                        float[] qNorm, float[] kNorm, Mlp mlp) {
        this.h = hidden;
        this.nH = heads;
        this.nKV = kvHeads;
        this.d = headDim;
        this.eps = eps;
        this.invFreq = Ops.invFreq(headDim, ropeTheta);
        this.inputNorm = inputNorm;
        this.postNorm = postNorm;
        this.q = q;
        this.k = k;
        this.v = v;
        this.o = o;
        this.qNorm = qNorm;
        this.kNorm = kNorm;
        this.mlp = mlp;
    }

    /**
     * Runs rows {@code x[m, H]}; row r belongs to cache sequence {@code rowSeq[r]} at absolute position
     * {@code rowPos[r]}, whose K/V this writes into {@code cache} layer {@code cacheLayer} before attending
     * causally over positions {@code 0..rowPos[r]}.
     */
    public float[] forward(float[] x, int m, int[] rowSeq, int[] rowPos, KvCache cache, int cacheLayer) {
        float[] a = Ops.rmsnormRows(x, m, h, inputNorm, eps);
        float[] qs = q.apply(a, m), ks = k.apply(a, m), vs = v.apply(a, m);
        float[] keys = cache.keys(cacheLayer), values = cache.values(cacheLayer);
        int kvw = nKV * d;
        for (int row = 0; row < m; row++) {
            for (int head = 0; head < nH; head++) {
                int off = row * nH * d + head * d;
                if (qNorm != null) Ops.rmsnorm(qs, off, d, qNorm, eps);
                Ops.rope(qs, off, d, invFreq, rowPos[row]);
            }
            for (int g = 0; g < nKV; g++) {
                int off = row * kvw + g * d;
                if (kNorm != null) Ops.rmsnorm(ks, off, d, kNorm, eps);
                Ops.rope(ks, off, d, invFreq, rowPos[row]);
            }
            int slot = cache.sequence(rowSeq[row]).slot(rowPos[row]);
            System.arraycopy(ks, row * kvw, keys, slot * kvw, kvw);
            System.arraycopy(vs, row * kvw, values, slot * kvw, kvw);
        }
        float[] att = new float[m * nH * d];
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
                for (int c = 0; c < d; c++) dot += qs[qOff + c] * keys[kOff + c];
                scores[u] = dot * scale;
                max = Math.max(max, scores[u]);
            }
            float sum = 0f;
            for (int u = 0; u <= p; u++) sum += scores[u] = (float) Math.exp(scores[u] - max);
            for (int u = 0; u <= p; u++) {
                float pr = scores[u] / sum;
                int vOff = s.slot(u) * kvw + g * d;
                for (int c = 0; c < d; c++) att[qOff + c] += pr * values[vOff + c];
            }
        });
        float[] y = o.apply(att, m);
        for (int n = 0; n < y.length; n++) y[n] += x[n];
        float[] b = Ops.rmsnormRows(y, m, h, postNorm, eps);
        float[] f = mlp.apply(b, m);
        for (int n = 0; n < y.length; n++) y[n] += f[n];
        return y;
    }
}
