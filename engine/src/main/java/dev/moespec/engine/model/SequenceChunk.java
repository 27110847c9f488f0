package dev.moespec.engine.model;

/**
 * Tokens appended to one open sequence in one step: a whole prompt (prefill), one token (decode), or several
 * (speculative verification).
 *
 * @param sequence  id from {@link ModelRunner#open}
 * @param tokens    the new tokens, at positions {@code length .. length + tokens.length - 1}
 * @param allLogits logits for every new token; false returns only the last one's
 */
public record SequenceChunk(int sequence, int[] tokens, boolean allLogits) {
    public SequenceChunk {
        if (tokens.length == 0) throw new IllegalArgumentException("a chunk needs at least one token");
        tokens = tokens.clone();
    }

    public static SequenceChunk last(int sequence, int... tokens) {
        return new SequenceChunk(sequence, tokens, false);
    }

    @Override
    public int[] tokens() {
        return tokens.clone();
    }
}
