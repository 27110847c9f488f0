package dev.moespec.proposers.ngram;

import dev.moespec.api.proposer.Proposal;
import dev.moespec.api.proposer.ProposalRequest;
import dev.moespec.api.proposer.Proposer;
import dev.moespec.api.proposer.ProposerContext;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Prompt-lookup drafting on the CPU: for each sequence, the up-to-k tokens that followed the most recent earlier
 * occurrence of the longest suffix n-gram with n in [prompt_lookup_min, prompt_lookup_max]. No draft model and no
 * draft probabilities (the verifier uses p_draft = 1). Stateless, so safe to share.
 */
public final class NgramProposer implements Proposer {

    private static final int[] NONE = new int[0];

    private final int k;
    private final int minN;
    private final int maxN;
    private final int maxModelLen;

    /** A proposer with {@code context}'s k, lookup bounds and max_model_len. */
    public NgramProposer(ProposerContext context) {
        this.k = context.numSpeculativeTokens();
        this.minN = context.promptLookupMin();
        this.maxN = context.promptLookupMax();
        this.maxModelLen = context.maxModelLen();
    }

    @Override
    public Proposal propose(ProposalRequest request) {
        List<int[]> drafts = new ArrayList<>(request.batchSize());
        for (int[] history : request.tokenHistories()) {
            drafts.add(proposeOne(history));
        }
        return Proposal.tokensOnly(drafts);
    }

    /** The draft for one history; empty when nothing matches or the sequence is already at max_model_len. */
    int[] proposeOne(int[] history) {
        int budget = Math.min(k, maxModelLen - history.length);
        if (budget <= 0) return NONE;
        int start = SuffixMatcher.continuationStart(history, minN, maxN);
        if (start < 0) return NONE;
        return Arrays.copyOfRange(history, start, Math.min(history.length, start + budget));
    }
}
