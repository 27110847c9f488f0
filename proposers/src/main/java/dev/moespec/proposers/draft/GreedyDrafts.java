package dev.moespec.proposers.draft;

import dev.moespec.api.proposer.DraftChunk;
import dev.moespec.api.proposer.DraftNetwork;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * Greedy drafting of a batch through {@link DraftNetwork#forwardGreedy}: the sequences that may draft the same number
 * of tokens go in one call (usually all of them; fewer only near max_model_len), so a GPU network keeps each chain on
 * the device.
 */
public final class GreedyDrafts {
    private GreedyDrafts() {}

    /** {@code budgets[c]} (at least 1) drafted tokens for chunk {@code c}. */
    public static int[][] draft(DraftNetwork network, List<DraftChunk> chunks, int[] budgets) {
        Map<Integer, List<Integer>> byBudget = new TreeMap<>();
        for (int c = 0; c < chunks.size(); c++) byBudget.computeIfAbsent(budgets[c], b -> new ArrayList<>()).add(c);
        int[][] drafts = new int[chunks.size()][];
        for (var group : byBudget.entrySet()) {
            List<Integer> members = group.getValue();
            List<DraftChunk> part = new ArrayList<>(members.size());
            for (int c : members) part.add(chunks.get(c));
            int[][] drafted = network.forwardGreedy(part, group.getKey());
            for (int i = 0; i < members.size(); i++) drafts[members.get(i)] = drafted[i];
        }
        return drafts;
    }
}
