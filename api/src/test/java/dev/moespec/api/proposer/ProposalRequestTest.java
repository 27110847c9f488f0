package dev.moespec.api.proposer;

import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

class ProposalRequestTest {

    @Test
    void nullHistoryIsRejectedWithItsIndex() {
        var e = assertThrows(IllegalArgumentException.class,
                () -> new ProposalRequest(Arrays.asList(new int[] {1}, null)));
        assertEquals("token history of sequence 1 is null; pass an empty array for a sequence without tokens",
                e.getMessage());
    }

    @Test
    void theListIsCopiedSoLaterChangesToTheCallersListDoNotLeakIn() {
        List<int[]> histories = new ArrayList<>(List.of(new int[] {1, 2}, new int[0]));
        var request = new ProposalRequest(histories);
        histories.clear();
        assertEquals(2, request.batchSize());
        assertArrayEquals(new int[] {1, 2}, request.history(0));
        assertEquals(0, request.history(1).length);
    }
}
