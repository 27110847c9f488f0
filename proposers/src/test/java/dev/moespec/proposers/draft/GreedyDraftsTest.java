package dev.moespec.proposers.draft;

import dev.moespec.api.proposer.DraftChunk;
import dev.moespec.api.proposer.DraftNetworkKind;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

class GreedyDraftsTest {

    @Test
    void sequencesWithDifferentBudgetsDraftInOneCallPerBudget() {
        RecordingNetwork net = new RecordingNetwork(DraftNetworkKind.DRAFT_MODEL);
        int[][] histories = {{1, 2, 3}, {9, 8}, {4, 4, 4, 4}};
        int[] budgets = {2, 4, 2};
        List<DraftChunk> chunks = new ArrayList<>();
        for (int[] h : histories) chunks.add(DraftChunk.tokens(net.open(16), h));
        int[][] drafts = GreedyDrafts.draft(net, chunks, budgets);
        for (int c = 0; c < histories.length; c++) {
            assertArrayEquals(RecordingNetwork.greedy(histories[c], budgets[c]), drafts[c], "sequence " + c);
            // the history and every draft but the last were fed
            assertEquals(histories[c].length + budgets[c] - 1, net.length(c), "entries of sequence " + c);
        }
        assertEquals(2 + 4, net.forwards, "budget 2 (sequences 0 and 2 together), then budget 4");
    }
}
