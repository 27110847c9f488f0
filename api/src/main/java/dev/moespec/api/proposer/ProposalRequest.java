package dev.moespec.api.proposer;

import java.util.List;
import java.util.Objects;

/**
 * One step's input to {@link Proposer#propose}: per sequence, its prompt followed by every token generated so far.
 *
 * <p>The arrays are not copied (histories can be long and this runs every step): the engine must not change them
 * while {@code propose} runs, and a proposer must never write to them.
 *
 * @param tokenHistories one token-id array per sequence, in batch order
 */
public record ProposalRequest(List<int[]> tokenHistories) {

    public ProposalRequest {
        Objects.requireNonNull(tokenHistories, "tokenHistories");
        for (int i = 0; i < tokenHistories.size(); i++) {
            if (tokenHistories.get(i) == null) {
                throw new IllegalArgumentException("token history of sequence " + i + " is null; pass an empty array"
                        + " for a sequence without tokens");
            }
        }
        tokenHistories = List.copyOf(tokenHistories);
    }

    /** A request for the given histories. */
    public static ProposalRequest of(int[]... tokenHistories) {
        return new ProposalRequest(List.of(tokenHistories));
    }

    /** Number of sequences in the batch. */
    public int batchSize() {
        return tokenHistories.size();
    }

    /** The history of sequence {@code index}. */
    public int[] history(int index) {
        return tokenHistories.get(index);
    }
}
