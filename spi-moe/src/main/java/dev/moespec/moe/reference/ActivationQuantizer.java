package dev.moespec.moe.reference;

import dev.moespec.api.config.QuantScheme;
import dev.moespec.api.tensor.DType;
import dev.moespec.api.tensor.HostTensors;

/**
 * Simulates, in place on fp32 rows, the activation rounding a GPU path applies before each GEMM: BF16/FP16
 * layers round to their dtype; FP8 layers quantise to e4m3 with dynamic scales ({@code scale = amax / 448},
 * 1 for an all-zero group) and dequantise again, so that the fp32 math sees exactly the values the
 * tensor cores would.
 */
final class ActivationQuantizer {
    /** FP8_BLOCK_128 activations are quantised per token per group of this many columns. */
    static final int GROUP = 128;

    private ActivationQuantizer() {}

    /** Applies {@code quant}'s activation rounding to {@code data[rows, cols]}. */
    static void apply(QuantScheme quant, float[] data, int rows, int cols) {
        switch (quant) {
            case BF16 -> round(data, rows * cols, DType.BF16);
            case FP16 -> round(data, rows * cols, DType.F16);
            case FP8_BLOCK_128 -> {
                for (int r = 0; r < rows; r++) {
                    for (int c = 0; c < cols; c += GROUP) {
                        fp8(data, r * cols + c, r * cols + Math.min(cols, c + GROUP));
                    }
                }
            }
            case FP8_PER_CHANNEL -> {
                for (int r = 0; r < rows; r++) fp8(data, r * cols, (r + 1) * cols);
            }
            case FP8_PER_TENSOR -> fp8(data, 0, rows * cols);
        }
    }

    private static void round(float[] data, int n, DType dtype) {
        for (int i = 0; i < n; i++) data[i] = HostTensors.roundTo(dtype, data[i]);
    }

    /** One dynamic scale for {@code data[from, to)}. */
    private static void fp8(float[] data, int from, int to) {
        float amax = 0f;
        for (int i = from; i < to; i++) amax = Math.max(amax, Math.abs(data[i]));
        float scale = amax == 0f ? 1f : amax / HostTensors.E4M3_MAX;
        for (int i = from; i < to; i++) {
            data[i] = HostTensors.roundTo(DType.FP8_E4M3, data[i] / scale) * scale;
        }
    }
}
