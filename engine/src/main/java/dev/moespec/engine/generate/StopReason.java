package dev.moespec.engine.generate;

/** Why generation ended. */
public enum StopReason {
    /** The model produced its end-of-sequence token. */
    EOS,
    /** {@code max_tokens} new tokens were produced. */
    MAX_TOKENS
}
