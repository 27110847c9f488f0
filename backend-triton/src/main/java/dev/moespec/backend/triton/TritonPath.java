package dev.moespec.backend.triton;

import java.util.Arrays;
import java.util.Locale;

/**
 * Which kernels serve a call of M tokens. Up to {@value #SKINNY_MAX_TOKENS} tokens the layer is bound by reading the
 * hit experts' weights, and the skinny tensor-core grouped GEMMs ({@code moe_skinny.cu}) stream them; above it the
 * tile-64 grouped GEMMs ({@code moe_gemm.cu}) take over. The weight-streaming GEMV kernels ({@code moe_decode.cu},
 * M &le; {@value TritonMoeKernel#DECODE_MAX_TOKENS}) stay selectable so that the two small-M designs can be compared
 * (system property {@value #PROPERTY} or, in tests, {@link TritonMoeKernel#forcePath}).
 */
enum TritonPath {
    /** Weight-streaming GEMV kernels, one warp per weight row; M &le; {@value TritonMoeKernel#DECODE_MAX_TOKENS} only. */
    DECODE,
    /** Swap-AB mma.sync kernels with 16/32/64-token tiles and a 4-stage cp.async weight stream. */
    SKINNY,
    /** The tile-64 grouped GEMMs of the prefill regime. */
    GEMM;

    /** The largest M the automatic choice sends to {@link #SKINNY}. */
    static final int SKINNY_MAX_TOKENS = 256;
    /** Forces a path for every call that it can serve: {@code decode}, {@code skinny} or {@code gemm}. */
    static final String PROPERTY = "moespec.triton.path";

    /**
     * The path for {@code m} tokens: the automatic choice when {@code forced} is null; else {@code forced}, where
     * {@link #DECODE} (which serves M &le; {@value TritonMoeKernel#DECODE_MAX_TOKENS} only) hands larger M to
     * {@link #GEMM}, so that forcing it reproduces the dispatch before the skinny kernels existed.
     */
    static TritonPath choose(int m, TritonPath forced) {
        if (forced == null) return m <= SKINNY_MAX_TOKENS ? SKINNY : GEMM;
        if (forced == DECODE) return m <= TritonMoeKernel.DECODE_MAX_TOKENS ? DECODE : GEMM;
        return forced;
    }

    /** The path {@value #PROPERTY} names, or null when it is not set. */
    static TritonPath fromSystemProperty() {
        String v = System.getProperty(PROPERTY);
        if (v == null || v.isBlank()) return null;
        try {
            return valueOf(v.trim().toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("-D" + PROPERTY + "=" + v + " names no triton path; use one of "
                    + Arrays.stream(values()).map(p -> p.name().toLowerCase(Locale.ROOT)).toList() + " or leave it unset");
        }
    }
}
