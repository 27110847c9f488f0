package dev.moespec.api.proposer;

/**
 * What one {@link DraftNetwork#forward} call returns for each chunk, in chunk order: the logits of its last entry
 * (predicting the next token) and that entry's output feature (pre-norm; an EAGLE/MTP head feeds it to its next
 * speculative entry).
 *
 * @param lastLogits  per chunk, vocabulary-length logits
 * @param lastHidden  per chunk, hidden-size output of the last entry
 */
public record DraftOutput(float[][] lastLogits, float[][] lastHidden) {
    public DraftOutput {
        if (lastLogits.length != lastHidden.length) {
            throw new IllegalArgumentException("one logits row and one hidden row per chunk: " + lastLogits.length
                    + " vs " + lastHidden.length);
        }
    }
}
