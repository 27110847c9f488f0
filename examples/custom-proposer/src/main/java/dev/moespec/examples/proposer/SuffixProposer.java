package dev.moespec.examples.proposer;

import dev.moespec.api.proposer.Proposal;
import dev.moespec.api.proposer.ProposalRequest;
import dev.moespec.api.proposer.Proposer;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Drafts from the sequence's own history, like SuffixDecoding: find the longest suffix (up to {@value #MAX_MATCH}
 * tokens, at least {@value #MIN_MATCH}) that occurred earlier, then extend the draft one token at a time with the
 * token most of the still-agreeing earlier occurrences continue with (ties: the most recent occurrence). Where the
 * built-in {@code ngram} follows the single most recent occurrence, this votes over all of them, which helps on
 * repetitive text with one-off variations. Stateless; O(history × match length) per sequence.
 */
final class SuffixProposer implements Proposer {
    static final int MAX_MATCH = 16;
    static final int MIN_MATCH = 2;
    private static final int[] NONE = new int[0];

    private final int k;
    private final int maxModelLen;

    SuffixProposer(int k, int maxModelLen) {
        this.k = k;
        this.maxModelLen = maxModelLen;
    }

    @Override
    public Proposal propose(ProposalRequest request) {
        List<int[]> drafts = new ArrayList<>(request.batchSize());
        for (int[] h : request.tokenHistories()) drafts.add(draft(h, Math.min(k, maxModelLen - h.length)));
        return Proposal.tokensOnly(drafts);
    }

    /** Up to {@code budget} tokens continuing {@code h}; none when no suffix of at least MIN_MATCH recurs. */
    static int[] draft(int[] h, int budget) {
        int n = h.length;
        if (budget <= 0) return NONE;
        List<Integer> starts = List.of();  // where the continuation of each occurrence begins
        for (int len = Math.min(MAX_MATCH, n - 1); len >= MIN_MATCH && starts.isEmpty(); len--) {
            starts = occurrences(h, len);
        }
        int[] out = new int[budget];
        int produced = 0;
        List<Integer> agreeing = new ArrayList<>(starts);
        while (produced < budget && !agreeing.isEmpty()) {
            Map<Integer, Integer> votes = new HashMap<>();
            Map<Integer, Integer> latest = new HashMap<>();
            for (int s : agreeing) {
                int at = s + produced;
                if (at >= n) continue;
                votes.merge(h[at], 1, Integer::sum);
                latest.merge(h[at], s, Math::max);
            }
            if (votes.isEmpty()) break;
            int best = -1;
            for (var e : votes.entrySet()) {
                if (best < 0 || e.getValue() > votes.get(best)
                        || (e.getValue().equals(votes.get(best)) && latest.get(e.getKey()) > latest.get(best))) {
                    best = e.getKey();
                }
            }
            out[produced] = best;
            int step = produced++;
            int chosen = best;
            agreeing.removeIf(s -> s + step >= n || h[s + step] != chosen);
        }
        return Arrays.copyOf(out, produced);
    }

    /** Start of the continuation after each earlier occurrence of the last {@code len} tokens. */
    private static List<Integer> occurrences(int[] h, int len) {
        int n = h.length;
        List<Integer> starts = new ArrayList<>();
        for (int end = len; end < n; end++) {  // occurrence h[end-len, end), strictly before the suffix's end
            boolean match = true;
            for (int i = 1; i <= len && match; i++) match = h[end - i] == h[n - i];
            if (match) starts.add(end);
        }
        return starts;
    }
}
