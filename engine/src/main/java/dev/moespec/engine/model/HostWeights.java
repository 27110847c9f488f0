package dev.moespec.engine.model;

import dev.moespec.api.tensor.DType;
import dev.moespec.api.tensor.HostTensors;
import dev.moespec.api.tensor.Tensor;
import dev.moespec.engine.loader.Checkpoint;

import java.util.stream.IntStream;

/** Reads checkpoint tensors into fp32 arrays, dequantising FP8 block weights ({@code W = Q · scale_inv[r/128][c/128]}). */
public final class HostWeights {
    public static final int BLOCK = 128;

    private HostWeights() {}

    /** Any float tensor (BF16, F16, F32) as fp32. */
    public static float[] vector(Checkpoint c, String name) {
        return HostTensors.toFloats(c.tensor(name));
    }

    /** A matrix {@code [rows, cols]} as fp32, FP8 ones dequantised with their {@code _scale_inv}. */
    public static float[] matrix(Checkpoint c, String name) {
        Tensor w = c.tensor(name);
        float[] out = HostTensors.toFloats(w);
        if (w.dtype() != DType.FP8_E4M3) return out;
        int rows = (int) w.dim(0), cols = (int) w.dim(1);
        float[] s = HostTensors.toFloats(c.tensor(name + "_scale_inv"));
        int colBlocks = (cols + BLOCK - 1) / BLOCK;
        IntStream.range(0, rows).parallel().forEach(r -> {
            for (int col = 0; col < cols; col++) out[r * cols + col] *= s[(r / BLOCK) * colBlocks + col / BLOCK];
        });
        return out;
    }
}
