package dev.moespec.engine.model;

import java.util.stream.IntStream;

/**
 * {@code y = x · Wᵀ} with {@code W[out, in]} in fp32, rows of {@code x} independent (so batching never changes a
 * row's result). Parallel over output rows when the call is big enough to pay for the fork.
 */
public record Linear(float[] w, int out, int in) {
    private static final long PARALLEL_WORK = 1L << 17;

    public Linear {
        if (w.length != out * in) throw new IllegalArgumentException("weight holds " + w.length + " values, not " + out + "x" + in);
    }

    /** {@code x[rows, in]} → new {@code [rows, out]}. */
    public float[] apply(float[] x, int rows) {
        float[] y = new float[rows * out];
        if ((long) rows * out * in >= PARALLEL_WORK) {
            IntStream.range(0, out).parallel().forEach(o -> column(x, rows, y, o));
        } else {
            for (int o = 0; o < out; o++) column(x, rows, y, o);
        }
        return y;
    }

    private void column(float[] x, int rows, float[] y, int o) {
        int wBase = o * in;
        for (int r = 0; r < rows; r++) {
            int xBase = r * in;
            float acc = 0f;
            for (int i = 0; i < in; i++) acc += w[wBase + i] * x[xBase + i];
            y[r * out + o] = acc;
        }
    }
}
