package dev.moespec.api.proposer;

/**
 * What the engine hands a {@link ProposerProvider} when it creates a proposer. Passed in, never global.
 *
 * <p>An interface rather than a record so that it can grow: later hooks (for example access to a draft network
 * built with the draft's own config) arrive as default methods here, and neither existing providers nor
 * existing context implementations break. The numbers themselves live in the validated {@link ProposerSettings}
 * record, which is also the simplest context; a richer engine context delegates {@link #settings()} to one, so
 * every context a proposer sees carries validated values.
 */
public interface ProposerContext {

    /** The validated speculative settings; never {@code null}. */
    ProposerSettings settings();

    /** Tokens to propose per sequence and step ({@code num_speculative_tokens}, k ≥ 1). */
    default int numSpeculativeTokens() {
        return settings().numSpeculativeTokens();
    }

    /** Shortest n-gram a lookup proposer may match ({@code prompt_lookup_min}). */
    default int promptLookupMin() {
        return settings().promptLookupMin();
    }

    /** Longest n-gram a lookup proposer may match ({@code prompt_lookup_max}). */
    default int promptLookupMax() {
        return settings().promptLookupMax();
    }

    /** The target's maximum sequence length; history plus proposals never exceed it. */
    default int maxModelLen() {
        return settings().maxModelLen();
    }

    /** The target's vocabulary size; every proposed token id is below it. */
    default int vocabSize() {
        return settings().vocabSize();
    }
}
