package dev.moespec.api.proposer;

/**
 * The validated numbers every proposer is created with, and the simplest {@link ProposerContext}.
 *
 * @param numSpeculativeTokens k, the most tokens proposed per sequence and step (≥ 1)
 * @param promptLookupMin      shortest n-gram to match (≥ 1)
 * @param promptLookupMax      longest n-gram to match (≥ {@code promptLookupMin})
 * @param maxModelLen          the target's maximum sequence length (≥ 1)
 * @param vocabSize            the target's vocabulary size (≥ 1)
 */
public record ProposerSettings(int numSpeculativeTokens, int promptLookupMin, int promptLookupMax, int maxModelLen,
                               int vocabSize) implements ProposerContext {

    public ProposerSettings {
        if (numSpeculativeTokens < 1) {
            throw new IllegalArgumentException("num_speculative_tokens must be >= 1, got " + numSpeculativeTokens
                    + "; set \"num_speculative_tokens\" in --speculative-config");
        }
        if (promptLookupMin < 1) {
            throw new IllegalArgumentException("prompt_lookup_min must be >= 1, got " + promptLookupMin);
        }
        if (promptLookupMin > promptLookupMax) {
            // vLLM's wording, so users who come from it recognise the error.
            throw new IllegalArgumentException("prompt_lookup_min=" + promptLookupMin
                    + " must be <= prompt_lookup_max=" + promptLookupMax);
        }
        if (maxModelLen < 1) {
            throw new IllegalArgumentException("max_model_len must be >= 1, got " + maxModelLen);
        }
        if (vocabSize < 1) {
            throw new IllegalArgumentException("vocab_size must be >= 1, got " + vocabSize
                    + "; it comes from the target model's config.json");
        }
    }

    @Override
    public ProposerSettings settings() {
        return this;
    }
}
