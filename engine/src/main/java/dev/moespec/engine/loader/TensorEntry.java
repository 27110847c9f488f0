package dev.moespec.engine.loader;

import dev.moespec.api.tensor.DType;

import java.util.Arrays;

/**
 * One tensor of a safetensors header, validated: its byte range {@code [begin, end)} is relative to the start of
 * the data buffer and holds exactly {@code dtype × shape}.
 */
public record TensorEntry(String name, DType dtype, long[] shape, long begin, long end) {
    public TensorEntry {
        shape = shape.clone();
    }

    @Override
    public long[] shape() {
        return shape.clone();
    }

    public long elementCount() {
        long n = 1;
        for (long d : shape) n = Math.multiplyExact(n, d);
        return n;
    }

    public String describe() {
        return dtype + Arrays.toString(shape);
    }
}
