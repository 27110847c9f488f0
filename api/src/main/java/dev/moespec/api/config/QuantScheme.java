package dev.moespec.api.config;

/**
 * How a layer's weights (and, for FP8, its activations) are stored. This is the vocabulary that MoE
 * backends declare eligibility in; it maps onto vLLM's QuantKey pairs.
 */
public enum QuantScheme {
    /** Unquantized bfloat16 weights and activations. */
    BF16(false),
    /** Unquantized float16 weights and activations. */
    FP16(false),
    /** e4m3 weights with one float32 scale per tensor (per expert matrix); dynamic activation scales. */
    FP8_PER_TENSOR(true),
    /** e4m3 weights with one float32 scale per output channel; dynamic per-token activation scales. */
    FP8_PER_CHANNEL(true),
    /** e4m3 weights in 128x128 blocks with a float32 {@code weight_scale_inv} per block; activations quantised per token per 128-column group. */
    FP8_BLOCK_128(true);

    private final boolean fp8;

    QuantScheme(boolean fp8) {
        this.fp8 = fp8;
    }

    public boolean isFp8() {
        return fp8;
    }

    /** The lower-case name used on the command line and in reports: {@code fp8_block_128}. */
    public String cliName() {
        return name().toLowerCase(java.util.Locale.ROOT);
    }
}
