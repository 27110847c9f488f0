package dev.moespec.api.proposer;

import java.util.List;

/**
 * A causal drafter network the engine built for a proposer (a draft model, an EAGLE head, an MTP layer) with the
 * draft role's own config and MoE kernels. It holds its own KV cache, addressed by sequence handles; a proposer
 * rolls a sequence back with {@link #truncate} after the target rejected some of its drafts. Not thread-safe:
 * the engine calls its proposer from one thread.
 */
public interface DraftNetwork extends AutoCloseable {

    /** Which network this is. */
    DraftNetworkKind kind();

    /** The vocabulary its logits cover (the target's). */
    int vocabSize();

    /** The width of its features. */
    int hiddenSize();

    /**
     * Opens a sequence with room for {@code maxEntries} entries.
     *
     * @throws IllegalStateException when its KV cache cannot hold that many more entries
     */
    int open(int maxEntries);

    /** Frees a sequence. */
    void release(int sequence);

    /** Entries cached for {@code sequence}. */
    int length(int sequence);

    /** Drops every entry of {@code sequence} from position {@code length} on (rollback after a rejection). */
    void truncate(int sequence, int length);

    /** Appends each chunk's entries to its sequence (distinct sequences) and returns its last entry's outputs. */
    DraftOutput forward(List<DraftChunk> chunks);

    /**
     * Greedy drafting in one call: {@link #forward} of {@code chunks}, then {@code steps - 1} more entries per
     * sequence, each the argmax (lowest id on ties) of the previous step's last logits — with the previous step's last
     * hidden state as its feature when the chunks carry features. Returns {@code steps} tokens per chunk and leaves
     * every entry in the sequences' caches, as the same {@link #forward} calls would.
     *
     * <p>The default makes those calls one by one; a GPU network overrides it to keep the chain on the device and
     * read back only the tokens (one synchronisation instead of one a step).
     */
    default int[][] forwardGreedy(List<DraftChunk> chunks, int steps) {
        if (steps < 1) throw new IllegalArgumentException("greedy drafting needs at least one step, got " + steps);
        int[][] drafts = new int[chunks.size()][steps];
        List<DraftChunk> next = chunks;
        for (int j = 0; j < steps; j++) {
            DraftOutput out = forward(next);
            List<DraftChunk> following = new java.util.ArrayList<>(chunks.size());
            for (int c = 0; c < chunks.size(); c++) {
                int best = Argmax.of(out.lastLogits()[c]);
                drafts[c][j] = best;
                boolean fed = chunks.get(c).features() != null;
                following.add(new DraftChunk(chunks.get(c).sequence(), new int[] {best},
                        fed ? new float[][] {out.lastHidden()[c]} : null));
            }
            next = following;
        }
        return drafts;
    }

    /** The MoE backend its layers run on ({@code none} for a dense head), for reports. */
    String moeBackend();

    @Override
    void close();
}
