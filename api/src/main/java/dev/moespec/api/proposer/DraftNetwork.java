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

    /** The MoE backend its layers run on ({@code none} for a dense head), for reports. */
    String moeBackend();

    @Override
    void close();
}
