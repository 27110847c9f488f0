package dev.moespec.proposers.heads;

import dev.moespec.api.proposer.DraftChunk;
import dev.moespec.api.proposer.DraftNetwork;
import dev.moespec.api.proposer.Proposal;
import dev.moespec.api.proposer.ProposalRequest;
import dev.moespec.api.proposer.Proposer;
import dev.moespec.api.proposer.ProposerContext;
import dev.moespec.proposers.draft.DraftSequences;
import dev.moespec.proposers.draft.GreedyDrafts;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * EAGLE and MTP drafting (FORMAT.md §5.0): a causal head over entries {@code p = (x_{p+1}, f_p)}. For committed
 * tokens {@code x_0..x_{n-1}} the real entries {@code 0..n-2} use the target's features {@code h_p}; then for
 * {@code j = 0..k-1} the output {@code o_q} of entry {@code q = n-2+j} gives {@code d_j = argmax(logits(o_q))}
 * and the speculative entry {@code (d_j, o_q)} — the head's own pre-norm output as the next feature.
 *
 * <p>Each sequence's head cache keeps its real entries across steps. A real entry's feature depends only on the
 * committed prefix, so after verification only the speculative entries (and real ones whose token changed) are
 * truncated away, and the new real entries are fed in one chunk.
 */
public final class FeatureHeadProposer implements Proposer {
    private static final int[] NONE = new int[0];

    private final DraftNetwork network;
    private final int k;
    private final int maxModelLen;
    /** Each head sequence remembers the entry tokens of its real entries ({@code x_1..x_m}). */
    private final DraftSequences sequences;

    public FeatureHeadProposer(ProposerContext context, DraftNetwork network) {
        this.network = network;
        this.k = context.numSpeculativeTokens();
        this.maxModelLen = context.maxModelLen();
        this.sequences = new DraftSequences(network, maxModelLen);
    }

    @Override
    public Proposal propose(ProposalRequest request) {
        int b = request.batchSize();
        int[][] drafts = new int[b][];
        int[] budget = new int[b];
        List<Integer> active = new ArrayList<>();
        List<DraftChunk> chunks = new ArrayList<>();
        for (int i = 0; i < b; i++) {
            int[] history = request.history(i);
            int n = history.length;
            drafts[i] = NONE;
            budget[i] = Math.min(k, maxModelLen - n);
            if (budget[i] <= 0 || n < 2) continue;  // no target feature yet
            List<float[]> features = request.features(i);
            if (features.size() < n - 1) {
                throw new IllegalStateException(network.kind() + " needs the target features h_0..h_" + (n - 2)
                        + " of sequence " + request.sequenceId(i) + " but the request carries " + features.size()
                        + "; run it through an engine that passes target features");
            }
            DraftSequences.Entry c = sequences.entry(request.sequenceId(i));
            // real entries still valid: entry p holds x_{p+1}; the last one is re-fed for its output
            int[] entryTokens = Arrays.copyOfRange(history, 1, n);
            int keep = sequences.rollBack(c, entryTokens, n - 2);
            float[][] f = new float[n - 1 - keep][];
            for (int p = keep; p < n - 1; p++) f[p - keep] = features.get(p);
            chunks.add(new DraftChunk(c.handle(), Arrays.copyOfRange(entryTokens, keep, n - 1), f));
            active.add(i);
        }
        int[] budgets = new int[active.size()];
        for (int a = 0; a < active.size(); a++) budgets[a] = budget[active.get(a)];
        int[][] drafted = GreedyDrafts.draft(network, chunks, budgets);
        for (int a = 0; a < active.size(); a++) drafts[active.get(a)] = drafted[a];
        return Proposal.tokensOnly(Arrays.asList(drafts));
    }

    /** This proposer drafts by the greedy feature-chain rule, so the engine may run it fused with verification. */
    @Override
    public java.util.Optional<DraftNetwork> greedyFeatureChain() {
        return java.util.Optional.of(network);
    }

    @Override
    public void release(long sequenceId) {
        sequences.release(sequenceId);
    }

    @Override
    public void close() {
        sequences.close();
    }
}
