package dev.moespec.moe;

/**
 * The two regimes a MoE layer runs in. Decode calls carry few tokens and are bound by reading expert
 * weights; prefill calls carry many and are bound by tensor-core math, so the best backend can differ.
 */
public enum Phase {
    /** At most {@link #DECODE_MAX_TOKENS} tokens in one call. */
    DECODE,
    /** More than {@link #DECODE_MAX_TOKENS} tokens in one call. */
    PREFILL;

    public static final int DECODE_MAX_TOKENS = 64;

    public static Phase of(int tokens) {
        return tokens <= DECODE_MAX_TOKENS ? DECODE : PREFILL;
    }

    public String label() {
        return name().toLowerCase(java.util.Locale.ROOT);
    }
}
