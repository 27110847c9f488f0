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
 *   <li>FP8 on sm_89+: e4m3 weights and e4m3 activations on the FP8 tensor cores, dynamic activation scales per
 *       call (per-tensor), per token (per-channel) or per token per 128 columns (block-128); per-tensor/per-channel
 *       weight scales multiply the finished dot, block scales each 128-wide K group's partial dot, all in fp32.</li>
 *   <li>FP8 below sm_89 (and in tests, forced anywhere): the same, with the e4m3 values of weights and activations
 *       held in fp16 (e4m3 → fp16 is exact) on the fp16 tensor cores. Nothing is dequantised or rounded beyond what
 *       the CPU reference rounds, so both paths compute the reference's function up to fp32 summation order.</li>
 * </ul>
 *
 * @param gemmType     the element type of both GEMM operands
 * @param scaleMode    weight-scale layout the kernels read ({@link #NO_SCALE}, {@link #PER_TENSOR}, {@link #PER_CHANNEL},
 *                     {@link #BLOCK_128})
 * @param activation   how activations are quantised before each GEMM
 */
record TritonNumerics(DType gemmType, int scaleMode, ActivationQuant activation) {

    static final int NO_SCALE = 0, PER_TENSOR = 1, PER_CHANNEL = 2, BLOCK_128 = 3;
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

    /**
     * @param fp16Fp8 run FP8 layers on the fp16 tensor cores (e4m3 values held in fp16) even where e4m3 MMAs exist:
     *                tests use it to check the sm_80-88 path on any GPU
     */
    static TritonNumerics of(MoeLayerSpec layer, int sm, boolean fp16Fp8) {
        QuantScheme q = layer.quant();
        DType fp8Operands = !fp16Fp8 && sm >= TritonMoeBackendProvider.MIN_FP8_TENSOR_CORE_SM ? DType.FP8_E4M3 : DType.F16;
        return switch (q) {
            case BF16 -> new TritonNumerics(DType.BF16, NO_SCALE, ActivationQuant.NONE);
            case FP16 -> new TritonNumerics(DType.F16, NO_SCALE, ActivationQuant.NONE);
            case FP8_PER_TENSOR -> new TritonNumerics(fp8Operands, PER_TENSOR, ActivationQuant.TENSOR);
            case FP8_PER_CHANNEL -> new TritonNumerics(fp8Operands, PER_CHANNEL, ActivationQuant.ROWS);
            case FP8_BLOCK_128 -> new TritonNumerics(fp8Operands, BLOCK_128, ActivationQuant.GROUP_128);
        };
    }

    /** An FP8 layer: e4m3-valued weights with F32 scales, activations quantised to e4m3 before each GEMM. */
    boolean quantised() {
        return activation != ActivationQuant.NONE;
    }

    /** The kernel-name suffix: the GEMM element type, and {@code _b128} for block-scaled kernels. */
    String suffix() {
        String type = switch (gemmType) {
            case BF16 -> "bf16";
            case F16 -> "f16";
            default -> "e4m3";
        };
        return scaleMode == BLOCK_128 ? type + "_b128" : type;
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
