package dev.moespec.proposers.draft;

import dev.moespec.api.proposer.DraftChunk;
import dev.moespec.api.proposer.DraftNetwork;
import dev.moespec.api.proposer.Proposal;
import dev.moespec.api.proposer.ProposalRequest;
import dev.moespec.api.proposer.Proposer;
import dev.moespec.api.proposer.ProposerContext;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Drafts by running a separate draft model greedily over the committed tokens plus its own proposals
 * (FORMAT.md §5.4), all sequences of the batch in one draft forward per drafted position.
 *
 * <p>Rollback is by comparison: each sequence remembers the tokens its draft KV cache holds; at the next step the
 * cache is truncated to the longest prefix they share with the new history (so rejected drafts disappear and
 * accepted ones are kept without being recomputed), and only the rest is fed.
 */
final class DraftModelProposer implements Proposer {
    private static final int[] NONE = new int[0];

    private final DraftNetwork network;
    private final int k;
    private final int maxModelLen;
    private final DraftSequences sequences;

    DraftModelProposer(ProposerContext context, DraftNetwork network) {
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
            budget[i] = Math.min(k, maxModelLen - history.length);
            drafts[i] = NONE;
            if (budget[i] <= 0 || history.length == 0) continue;
            DraftSequences.Entry c = sequences.entry(request.sequenceId(i));
            // keep what the cache shares with the history; at least the last token is fed again for its logits
            int keep = sequences.rollBack(c, history, history.length - 1);
            chunks.add(DraftChunk.tokens(c.handle(), Arrays.copyOfRange(history, keep, history.length)));
            active.add(i);
        }
        int[] budgets = new int[active.size()];
        for (int a = 0; a < active.size(); a++) budgets[a] = budget[active.get(a)];
        int[][] drafted = GreedyDrafts.draft(network, chunks, budgets);
        for (int a = 0; a < active.size(); a++) {
            int i = active.get(a);
            drafts[i] = drafted[a];
            // the cache now holds every draft but the last (each was fed to draft the next)
            DraftSequences.Entry c = sequences.entry(request.sequenceId(i));
            for (int j = 0; j + 1 < drafted[a].length; j++) c.append(drafted[a][j]);
        }
        return Proposal.tokensOnly(Arrays.asList(drafts));
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
