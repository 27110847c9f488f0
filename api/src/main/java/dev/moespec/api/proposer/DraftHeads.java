package dev.moespec.api.proposer;

/**
 * Stateless drafter heads over one target feature (Medusa, FORMAT.md §5.3), built by the engine from the
 * speculative config's checkpoint. Head {@code i}, fed the feature of position {@code t}, predicts {@code x_{t+2+i}}.
 */
public interface DraftHeads extends AutoCloseable {

    /** How many heads, i.e. the most tokens one step can draft. */
    int numHeads();

    /**
     * Logits of every head for the target feature {@code h} (pre-norm, as {@link ProposalRequest#features} holds
     * it; the heads apply the target's final norm themselves when their format wants the normed state).
     *
     * @return {@code [numHeads][vocab]}
     */
    float[][] logits(float[] h);

    @Override
    default void close() {}
}
