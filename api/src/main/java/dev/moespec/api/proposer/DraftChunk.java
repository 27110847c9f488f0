package dev.moespec.api.proposer;

import java.util.Objects;

/**
 * Entries appended to one drafter sequence in one {@link DraftNetwork#forward} call, at positions
 * {@code length .. length + tokens.length - 1} of that sequence.
 *
 * @param sequence a handle from {@link DraftNetwork#open}
 * @param tokens   the entries' tokens (at least one)
 * @param features one hidden-size feature per token for feature-fed heads (EAGLE, MTP); {@code null} for a
 *                 draft model, which takes tokens only
 */
public record DraftChunk(int sequence, int[] tokens, float[][] features) {
    public DraftChunk {
        Objects.requireNonNull(tokens, "tokens");
        if (tokens.length == 0) throw new IllegalArgumentException("a draft chunk needs at least one token");
        if (features != null && features.length != tokens.length) {
            throw new IllegalArgumentException("a draft chunk needs one feature per token: " + tokens.length
                    + " tokens, " + features.length + " features");
        }
    }

    /** Tokens only (a draft model). */
    public static DraftChunk tokens(int sequence, int... tokens) {
        return new DraftChunk(sequence, tokens, null);
    }
}
