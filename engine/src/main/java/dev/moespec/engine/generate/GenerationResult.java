package dev.moespec.engine.generate;

/**
 * One finished generation.
 *
 * @param tokens       the new tokens (the EOS token included when generation stopped on it)
 * @param text         their decoded text
 * @param promptTokens prompt length in tokens (BOS included)
 * @param ttftNanos    time to first token: prompt prefill plus the first sample
 * @param totalNanos   wall time from the prefill's start to the last token
 * @param stop         why it ended
 * @param moeBackend   the MoE backend(s) the model ran
 */
public record GenerationResult(int[] tokens, String text, int promptTokens, long ttftNanos, long totalNanos,
                               StopReason stop, String moeBackend) {
    public GenerationResult {
        tokens = tokens.clone();
    }

    @Override
    public int[] tokens() {
        return tokens.clone();
    }

    /** New tokens per second over the whole request. */
    public double tokensPerSecond() {
        return totalNanos == 0 ? 0 : tokens.length * 1e9 / totalNanos;
    }

    /** Tokens per second after the first token (decode speed); 0 when only one token was produced. */
    public double decodeTokensPerSecond() {
        long decode = totalNanos - ttftNanos;
        return tokens.length < 2 || decode <= 0 ? 0 : (tokens.length - 1) * 1e9 / decode;
    }
}
