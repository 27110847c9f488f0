package dev.moespec.engine.spec.gpu;

import java.util.random.RandomGenerator;

/** Hands the CPU sampler a fixed sequence of uniforms, so that it draws exactly what the GPU sampler was given. */
final class ReplayedUniforms implements RandomGenerator {
    private final double[] values;
    private int next;

    ReplayedUniforms(double[] values) {
        this.values = values;
    }

    @Override
    public double nextDouble() {
        if (next == values.length) throw new IllegalStateException("the CPU sampler asked for more than " + values.length + " uniforms");
        return values[next++];
    }

    @Override
    public long nextLong() {
        throw new UnsupportedOperationException("the rejection sampler only draws doubles");
    }
}
