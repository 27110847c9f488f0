package dev.moespec.backend.triton;

import dev.moespec.api.config.QuantScheme;
import dev.moespec.api.tensor.DType;
import dev.moespec.moe.MoeLayerSpec;

/**
 * How one layer runs on triton's kernels: the element type the GEMMs multiply, how FP8 weight scales are laid out,
 * and how activations are quantised before each GEMM (exactly where the CPU reference rounds them).
 *
 * <ul>
 *   <li>BF16 / FP16: the 2-byte kernels, no scales; activations are already in the dtype, the SwiGLU intermediate
 *       is rounded to it.</li>
 *   <li>FP8 per-tensor / per-channel on sm_89+: e4m3 weights and e4m3 activations on the FP8 tensor cores, dynamic
 *       activation scales per call (per-tensor) or per token (per-channel), weight scales applied in the epilogue.</li>
 *   <li>Every FP8 scheme below sm_89, and FP8_BLOCK_128 everywhere: weights dequantised to BF16 at load; activations
 *       quantised to e4m3 and back (per tensor, per token, or per token per 128 columns) before the BF16 kernels.</li>
 * </ul>
 *
 * @param gemmType     the element type of both GEMM operands
 * @param scaleMode    weight-scale layout the kernels read ({@link #NO_SCALE}, {@link #PER_TENSOR}, {@link #PER_CHANNEL})
 * @param activation   how activations are quantised before each GEMM
 */
record TritonNumerics(DType gemmType, int scaleMode, ActivationQuant activation) {

    static final int NO_SCALE = 0, PER_TENSOR = 1, PER_CHANNEL = 2;
    /** Element-type codes of the CUDA side ({@code moe::ElemCode}). */
    static final int CODE_BF16 = 0, CODE_F16 = 1, CODE_E4M3 = 2, CODE_F32 = 3;

    /** Activation rounding before a GEMM. */
    enum ActivationQuant {
        /** BF16/FP16 layers: nothing beyond the dtype. */
        NONE,
        /** One dynamic e4m3 scale over the whole tensor. */
        TENSOR,
        /** One dynamic e4m3 scale per row (token, or assignment for the intermediate). */
        ROWS,
        /** One dynamic e4m3 scale per row per 128 columns. */
        GROUP_128
    }

    static TritonNumerics of(MoeLayerSpec layer, int sm, boolean forceDequantise) {
        QuantScheme q = layer.quant();
        boolean native8 = !forceDequantise && sm >= TritonMoeBackendProvider.MIN_FP8_TENSOR_CORE_SM;
        return switch (q) {
            case BF16 -> new TritonNumerics(DType.BF16, NO_SCALE, ActivationQuant.NONE);
            case FP16 -> new TritonNumerics(DType.F16, NO_SCALE, ActivationQuant.NONE);
            case FP8_PER_TENSOR -> native8 ? new TritonNumerics(DType.FP8_E4M3, PER_TENSOR, ActivationQuant.TENSOR)
                    : new TritonNumerics(DType.BF16, NO_SCALE, ActivationQuant.TENSOR);
            case FP8_PER_CHANNEL -> native8 ? new TritonNumerics(DType.FP8_E4M3, PER_CHANNEL, ActivationQuant.ROWS)
                    : new TritonNumerics(DType.BF16, NO_SCALE, ActivationQuant.ROWS);
            case FP8_BLOCK_128 -> new TritonNumerics(DType.BF16, NO_SCALE, ActivationQuant.GROUP_128);
        };
    }

    /** Weights stay FP8 on the device. */
    boolean fp8Gemm() {
        return gemmType == DType.FP8_E4M3;
    }

    /** FP8 weights were dequantised to BF16 at load and activations are quantised and dequantised again. */
    boolean dequantised() {
        return !fp8Gemm() && activation != ActivationQuant.NONE;
    }

    /** The kernel-name suffix of the GEMM element type. */
    String suffix() {
        return switch (gemmType) {
            case BF16 -> "bf16";
            case F16 -> "f16";
            default -> "e4m3";
        };
    }

    int gemmCode() {
        return code(gemmType);
    }

    static int code(DType t) {
        return switch (t) {
            case BF16 -> CODE_BF16;
            case F16 -> CODE_F16;
            case FP8_E4M3 -> CODE_E4M3;
            case F32 -> CODE_F32;
            default -> throw new IllegalArgumentException("no kernel element code for " + t);
        };
    }

    /** K padded so that every row is a whole number of 16-byte vectors of the GEMM type (zeros in the padding). */
    int padK(int k) {
        int perVector = 16 / gemmType.byteSize();
        return (k + perVector - 1) / perVector * perVector;
    }
}
