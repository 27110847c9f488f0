package dev.moespec.proposers.draft;

import dev.moespec.api.proposer.DraftChunk;
import dev.moespec.api.proposer.DraftNetwork;
import dev.moespec.api.proposer.DraftOutput;
import dev.moespec.api.proposer.Proposal;
import dev.moespec.api.proposer.ProposalRequest;
import dev.moespec.api.proposer.Proposer;
import dev.moespec.api.proposer.ProposerContext;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

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
    private final Map<Long, Cached> sequences = new HashMap<>();

    /** A draft sequence handle and the tokens its cache holds, in order. */
    private static final class Cached {
        final int handle;
        int[] fed = NONE;

        Cached(int handle) {
            this.handle = handle;
        }
    }

    DraftModelProposer(ProposerContext context, DraftNetwork network) {
        this.network = network;
        this.k = context.numSpeculativeTokens();
        this.maxModelLen = context.maxModelLen();
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
            Cached c = sequences.computeIfAbsent(request.sequenceId(i), id -> new Cached(network.open(maxModelLen)));
            // keep what the cache shares with the history; at least the last token is fed again for its logits
            int keep = Math.min(commonPrefix(c.fed, history), history.length - 1);
            network.truncate(c.handle, keep);
            chunks.add(DraftChunk.tokens(c.handle, Arrays.copyOfRange(history, keep, history.length)));
            c.fed = history;
            drafts[i] = new int[budget[i]];
            active.add(i);
        }
        for (int j = 0; !active.isEmpty(); j++) {
            DraftOutput out = network.forward(chunks);
            List<Integer> next = new ArrayList<>();
            List<DraftChunk> nextChunks = new ArrayList<>();
            for (int a = 0; a < active.size(); a++) {
                int i = active.get(a);
                drafts[i][j] = Argmax.of(out.lastLogits()[a]);
                if (j + 1 < budget[i]) {
                    Cached c = sequences.get(request.sequenceId(i));
                    nextChunks.add(DraftChunk.tokens(c.handle, drafts[i][j]));
                    c.fed = append(c.fed, drafts[i][j]);
                    next.add(i);
                }
            }
            active = next;
            chunks = nextChunks;
        }
        return Proposal.tokensOnly(Arrays.asList(drafts));
    }

    static int commonPrefix(int[] a, int[] b) {
        int n = Math.min(a.length, b.length), i = 0;
        while (i < n && a[i] == b[i]) i++;
        return i;
    }

    private static int[] append(int[] a, int t) {
        int[] r = Arrays.copyOf(a, a.length + 1);
        r[a.length] = t;
        return r;
    }

    @Override
    public void release(long sequenceId) {
        Cached c = sequences.remove(sequenceId);
        if (c != null) network.release(c.handle);
    }

    @Override
    public void close() {
        sequences.values().forEach(c -> network.release(c.handle));
        sequences.clear();
        network.close();
    }
}
