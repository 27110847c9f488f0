package dev.moespec.engine.model;

/** The small fp32 operators of FORMAT.md §4.4: RMSNorm, RoPE ("rotate_half"), SiLU, softmax. */
public final class Ops {
    private Ops() {}

    /** In place on {@code x[off, off+n)}: {@code x / sqrt(mean(x²) + eps) * w}. */
    public static void rmsnorm(float[] x, int off, int n, float[] w, float eps) {
        float sum = 0f;
        for (int i = 0; i < n; i++) sum += x[off + i] * x[off + i];
        float inv = (float) (1.0 / Math.sqrt(sum / n + eps));
        for (int i = 0; i < n; i++) x[off + i] = x[off + i] * inv * w[i];
    }

    /** {@link #rmsnorm} of every {@code n}-wide row into a new array. */
    public static float[] rmsnormRows(float[] x, int rows, int n, float[] w, float eps) {
        float[] out = x.clone();
        for (int r = 0; r < rows; r++) rmsnorm(out, r * n, n, w, eps);
        return out;
    }

    /** {@code inv_freq[i] = theta^(-2i/d)} in fp32. */
    public static float[] invFreq(int d, double theta) {
        float[] f = new float[d / 2];
        for (int i = 0; i < f.length; i++) f[i] = (float) (1.0 / Math.pow(theta, (2.0 * i) / d));
        return f;
    }

    /** Non-interleaved RoPE of one head {@code v[off, off+d)} at position {@code p}. */
    public static void rope(float[] v, int off, int d, float[] invFreq, int p) {
        int half = d / 2;
        for (int i = 0; i < half; i++) {
            float a = p * invFreq[i];
            float cos = (float) Math.cos(a), sin = (float) Math.sin(a);
            float x0 = v[off + i], x1 = v[off + i + half];
            v[off + i] = x0 * cos - x1 * sin;
            v[off + i + half] = x1 * cos + x0 * sin;
        }
    }

    public static float silu(float z) {
        return (float) (z / (1.0 + Math.exp(-z)));
    }
}
