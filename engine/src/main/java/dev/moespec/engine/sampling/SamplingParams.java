package dev.moespec.engine.sampling;

import java.util.OptionalLong;

/**
 * vLLM's sampling parameters.
 *
 * @param temperature 0 = greedy; otherwise logits are divided by it
 * @param topK        keep the k most likely tokens; 0 or -1 = all
 * @param topP        keep the smallest set whose probability reaches p; 1 = all
 * @param seed        makes sampling reproducible; empty = a random seed
 * @param maxTokens   new tokens at most
 * @param ignoreEos   keep generating past the end-of-sequence token
 */
public record SamplingParams(double temperature, int topK, double topP, OptionalLong seed, int maxTokens,
                             boolean ignoreEos) {
    public SamplingParams {
        if (!(temperature >= 0) || Double.isInfinite(temperature)) {
            throw new IllegalArgumentException("temperature must be a finite number >= 0 (0 = greedy), got " + temperature);
        }
        if (topK < -1) throw new IllegalArgumentException("top_k must be -1 or 0 (all tokens) or >= 1, got " + topK);
        if (!(topP > 0 && topP <= 1)) throw new IllegalArgumentException("top_p must be in (0, 1], got " + topP);
        if (maxTokens < 1) throw new IllegalArgumentException("max_tokens must be >= 1, got " + maxTokens);
        java.util.Objects.requireNonNull(seed, "seed");
    }

    public static SamplingParams greedy(int maxTokens) {
        return new SamplingParams(0, 0, 1, OptionalLong.empty(), maxTokens, false);
    }

    public boolean isGreedy() {
        return temperature == 0;
    }
}
