package dev.moespec.api.proposer;

/**
 * Drafts up to k tokens per sequence for one speculative-decoding step. Created by a {@link ProposerProvider}
 * for one engine instance; the engine calls it from one thread at a time and closes it when the engine stops.
 */
public interface Proposer extends AutoCloseable {

    /**
     * Proposes draft tokens for every sequence of the batch.
     *
     * @param request the batch's token histories; never {@code null}, never modified
     * @return one entry per sequence in request order, each with 0..k tokens (0 = no proposal this step)
     */
    Proposal propose(ProposalRequest request);

    /**
     * The sequence with id {@code sequenceId} (see {@link ProposalRequest#sequenceIds()}) has finished: free its
     * draft state. Stateless proposers keep the no-op.
     */
    default void release(long sequenceId) {}

    /**
     * The feature-fed network this proposer drafts with when it follows the greedy EAGLE / MTP rule exactly (FORMAT.md
     * §5.0: entries {@code (x_{p+1}, h_p)} over the target's features, then k argmax steps, each fed the head's own
     * output): the engine may then run that rule itself for greedy requests, on the device right behind each
     * verification pass, instead of calling {@link #propose} (one synchronisation a round instead of two). A proposer
     * that drafts otherwise, or wants every call, keeps the default: empty.
     */
    default java.util.Optional<DraftNetwork> greedyFeatureChain() {
        return java.util.Optional.empty();
    }

    /** Releases device buffers or draft-model state. Model-free proposers hold nothing, hence the no-op. */
    @Override
    default void close() {}
}
