package dev.moespec.moe.reference;

import dev.moespec.api.config.QuantScheme;
import dev.moespec.api.tensor.DType;
import dev.moespec.api.tensor.HostTensors;

/**
 * Simulates, in place on fp32 rows, the activation rounding a GPU path applies before each GEMM: BF16/FP16
 * layers round to their dtype; FP8 layers quantise to e4m3 with dynamic scales and dequantise again, so that the
 * fp32 math sees exactly the values the tensor cores would. The FP8 recipe is the one flashinfer_trtllm and triton
 * implement (their {@code fi_quant_hidden_block} / {@code moe_quant_rows_e4m3} and GEMM-1 epilogues): on an H100 both
 * agree with this class to 0–2.4e-4 relative per layer of the demo target (engine's {@code Fp8MoeLayerGpuTest}):
 * <ul>
 *   <li>{@code scale = amax / 448} in fp32 over the group (1 for an all-zero group), kept in fp32 — not rounded to
 *       a power of two, not stored as BF16;</li>
 *   <li>{@code q = e4m3(x / scale)}: a true fp32 division, round to nearest even, saturating at ±448;</li>
 *   <li>the GEMM multiplies the e4m3 values and applies {@code scale × weight block scale} in fp32.</li>
 * </ul>
 * The MoE input reaches an FP8 kernel as BF16 (the backends' contract), so an fp32 input is first rounded to BF16
 * ({@link #roundInput}); the SwiGLU intermediate is quantised straight from fp32, per row per 128 columns
 * (block-128), as the GPU GEMM-1 epilogues do.
 */
final class ActivationQuantizer {
    /** FP8_BLOCK_128 activations are quantised per token per group of this many columns. */
    static final int GROUP = 128;

    private ActivationQuantizer() {}

    /**
     * Rounds an MoE input given in fp32 to the dtype a GPU backend receives it in ({@code MoeTensorChecks
     * .activationDType}: BF16 for BF16 and FP8 layers, F16 for FP16 layers). Values already in that dtype are unchanged.
     */
    static void roundInput(QuantScheme quant, float[] data, int n) {
        round(data, n, quant == QuantScheme.FP16 ? DType.F16 : DType.BF16);
    }

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
