package dev.moespec.engine.spec.gpu;

import dev.moespec.api.proposer.DraftChunk;
import dev.moespec.api.proposer.Proposer;
import dev.moespec.engine.cuda.CudaFeatureHead;
import dev.moespec.engine.cuda.CudaMoeModel;
import dev.moespec.engine.cuda.FusedRound;
import dev.moespec.engine.model.ModelRunner;
import dev.moespec.engine.model.SequenceChunk;

import java.util.List;
import java.util.Locale;
import java.util.Optional;

/**
 * Greedy EAGLE / MTP rounds with drafting fused behind verification on the GPU, as vLLM and SGLang run EAGLE inside
 * the model runner: the target's verification pass and the head's next drafts are queued back to back on one stream
 * and the host waits once a round, for the verdict and the drafts only ({@link CudaFeatureHead#draftAfter}). The
 * proposer's separate call — its uploads, launch and synchronisation, 40–60 µs of a batch-1 round on the demo models —
 * is gone; the head keeps its own sequences here (the proposer's are not used on this path).
 *
 * <p>Used when the proposer lends its network ({@link Proposer#greedyFeatureChain}), the target is a
 * {@link CudaMoeModel}, the network a {@link CudaFeatureHead}, the request greedy and the batch fits the head's fused
 * kernels. {@code -Dmoespec.spec.fused=false} (or {@code MOESPEC_SPEC_FUSED=false}) turns it off: every round then
 * calls the proposer.
 */
public final class FusedDrafting {
    public static final String PROPERTY = "moespec.spec.fused";
    public static final String ENV = "MOESPEC_SPEC_FUSED";
    private final CudaMoeModel target;
    private final CudaFeatureHead head;
    private final int siblings;

    private FusedDrafting(CudaMoeModel target, CudaFeatureHead head, int siblings) {
        this.target = target;
        this.head = head;
        this.siblings = siblings;
    }

    /**
     * The fused path for this target and proposer, when both run on the GPU and it is not turned off.
     *
     * @param siblings the speculative config's {@code sibling_drafts} (0: chains)
     */
    public static Optional<FusedDrafting> of(ModelRunner target, Optional<Proposer> proposer, int siblings) {
        String p = System.getProperty(PROPERTY);
        String v = (p != null ? p : System.getenv().getOrDefault(ENV, "true")).strip().toLowerCase(Locale.ROOT);
        if (v.equals("false") || v.equals("off") || v.equals("0")) return Optional.empty();
        if (!(target instanceof CudaMoeModel cuda) || proposer.isEmpty()) return Optional.empty();
        return proposer.get().greedyFeatureChain()
                .filter(CudaFeatureHead.class::isInstance)
                .map(n -> new FusedDrafting(cuda, (CudaFeatureHead) n, siblings));
    }

    /**
     * Sibling drafts a round of {@code sequences} sequences with k drafts verifies: the chain drafts at depths
     * 1..s each with a sibling, the head's second choice at its depth, as one more verified row (greedy only; the first
     * round after the prompt verifies a chain). At most k, and 0 when such rounds would not fit the fused kernels and
     * graphs (then the rounds are chains).
     */
    public int siblings(int sequences, int k) {
        int s = Math.min(siblings, k);
        return s > 0 && head.fusesAfter(sequences, 1 + k + s, k) ? s : 0;
    }

    /** Whether rounds of {@code sequences} sequences with {@code k} drafts each fit the fused kernels and graphs. */
    public boolean fits(int sequences, int k) {
        return target.graphsOn() && head.fusesAfter(sequences, 1 + k, k);
    }

    /** Opens a head sequence with room for {@code maxEntries} entries. */
    public int open(int maxEntries) {
        return head.open(maxEntries);
    }

    public void release(int headSequence) {
        head.release(headSequence);
    }

    public void truncate(int headSequence, int length) {
        head.truncate(headSequence, length);
    }

    /** The first drafts, from the prompt's entries with the target's features carried by the host. */
    public int[][] first(List<DraftChunk> chunks, int k) {
        return head.forwardGreedy(chunks, k);
    }

    /**
     * Whether {@link #prefillAndFirst} takes a prefill of {@code entries} head entries in {@code sequences} sequences
     * with k drafts: then the prefill need not bring its features back and the catch-up follows it on the device.
     */
    public boolean catchesUpOnTarget(int entries, int sequences, int k) {
        return head.takesTargetFeatures(entries, sequences, k);
    }

    /**
     * The target's greedy prefill of {@code prefill}, each prompt's first token and the first drafts after it, queued
     * back to back with one synchronisation ({@link CudaFeatureHead#forwardGreedyAfterPrefill}): chunk c holds prompt
     * c's head entries (tokens only, feature rows from {@code featureRows[c]}), the last one the first token's, whose
     * token the device fills in. Check {@link #catchesUpOnTarget} first.
     */
    public CudaFeatureHead.PrefillDrafts prefillAndFirst(List<SequenceChunk> prefill, List<DraftChunk> chunks,
                                                         int[] featureRows, int k) {
        return head.forwardGreedyAfterPrefill(target, prefill, chunks, featureRows, k);
    }

    /**
     * One round: verification of {@code chunks} (the last committed token and k drafts each, then the siblings in a
     * tree round) and the next k drafts of head sequences {@code headSequences} (same order, with {@code siblings}
     * siblings: {@link #siblings(int, int)}), with one synchronisation.
     */
    public FusedRound round(List<SequenceChunk> chunks, int[] headSequences, int k, int siblings) {
        for (int c = 0; c < chunks.size(); c++) {
            // the head's entries take the target's positions (CudaFeatureHead.draftAfter)
            int t = target.length(chunks.get(c).sequence()), e = head.length(headSequences[c]);
            if (t != e) {
                throw new IllegalStateException("head sequence " + headSequences[c] + " holds " + e + " entries but its"
                        + " target sequence " + t + " tokens; truncate both to the committed tokens after each round");
            }
        }
        return head.draftAfter(target, chunks, headSequences, k, siblings);
    }
}
