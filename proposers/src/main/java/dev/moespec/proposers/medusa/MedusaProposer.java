package dev.moespec.proposers.medusa;

import dev.moespec.api.proposer.Argmax;
import dev.moespec.api.proposer.DraftHeads;
import dev.moespec.api.proposer.Proposal;
import dev.moespec.api.proposer.ProposalRequest;
import dev.moespec.api.proposer.Proposer;
import dev.moespec.api.proposer.ProposerContext;

import java.util.ArrayList;
import java.util.List;

/**
 * Medusa, top-1 chain (FORMAT.md §5.3): with committed {@code x_0..x_{n-1}}, the heads read the target feature of
 * position {@code n-2} (the one that produced {@code x_{n-1}}) and head {@code i} proposes {@code x_{n+i}}.
 * Stateless: nothing to roll back.
 */
final class MedusaProposer implements Proposer {
    private static final int[] NONE = new int[0];

    private final DraftHeads heads;
    private final int k;
    private final int maxModelLen;

    MedusaProposer(ProposerContext context, DraftHeads heads) {
        if (context.numSpeculativeTokens() > heads.numHeads()) {
            heads.close();
            throw new IllegalArgumentException("medusa has " + heads.numHeads() + " heads, so it drafts at most "
                    + heads.numHeads() + " tokens per step; set \"num_speculative_tokens\" to at most "
                    + heads.numHeads() + " (got " + context.numSpeculativeTokens() + ")");
        }
        this.heads = heads;
        this.k = context.numSpeculativeTokens();
        this.maxModelLen = context.maxModelLen();
    }

    @Override
    public Proposal propose(ProposalRequest request) {
        List<int[]> drafts = new ArrayList<>(request.batchSize());
        for (int i = 0; i < request.batchSize(); i++) {
            int n = request.history(i).length;
            int budget = Math.min(k, maxModelLen - n);
            List<float[]> features = request.features(i);
            if (budget <= 0 || n < 2) {
                drafts.add(NONE);
                continue;
            }
            if (features.size() < n - 1) {
                throw new IllegalStateException("medusa needs the target feature h_" + (n - 2) + " of sequence "
                        + request.sequenceId(i) + " but the request carries " + features.size()
                        + "; run it through an engine that passes target features");
            }
            float[][] logits = heads.logits(features.get(n - 2));
            int[] d = new int[budget];
            for (int j = 0; j < budget; j++) d[j] = Argmax.of(logits[j]);
            drafts.add(d);
        }
        return Proposal.tokensOnly(drafts);
    }

    @Override
    public void close() {
        heads.close();
    }
}
