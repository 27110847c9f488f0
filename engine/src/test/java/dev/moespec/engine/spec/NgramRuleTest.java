package dev.moespec.engine.spec;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

/** The oracle itself, on histories whose answer is clear by eye. */
class NgramRuleTest {

    @Test
    void theLongestSuffixWinsAndItsMostRecentOccurrenceIsUsed() {
        // suffix "1 2 3" occurred at 0 (followed by 4 5) and at 5 (followed by 9 8): the most recent, 5, wins
        int[] h = {1, 2, 3, 4, 5, 1, 2, 3, 9, 8, 7, 1, 2, 3};
        assertArrayEquals(new int[] {9, 8, 7, 1}, NgramRule.propose(h, 4, 2, 5));
        assertArrayEquals(new int[] {9}, NgramRule.propose(h, 1, 2, 5));
    }

    @Test
    void nothingIsProposedBelowTheMinimumLength() {
        assertArrayEquals(new int[0], NgramRule.propose(new int[] {1, 2, 3, 4, 5, 6, 3}, 4, 2, 5));
        assertArrayEquals(new int[] {4, 5, 6, 3}, NgramRule.propose(new int[] {1, 2, 3, 4, 5, 6, 3}, 4, 1, 5));
    }

    @Test
    void anOccurrenceMayOverlapTheSuffixAndItsContinuationStopsAtTheEnd() {
        // "7 7 7" ends one before the last token: only one token follows it
        assertArrayEquals(new int[] {7}, NgramRule.propose(new int[] {1, 7, 7, 7, 7}, 4, 2, 3));
    }

    @Test
    void replayCountsEveryVerificationAndTheAcceptedPrefix() {
        // prompt 1 2 3 1 2; the target then writes 3 1 2 3 1 2 3 1 ...; prefill gives 3.
        // step 1, history 1 2 3 1 2 3: "1 2 3" last occurred at 0, followed by 1 2 3 (the history ends there):
        //   3 drafts, all match: 3 accepted, 4 tokens committed (5 produced)
        // step 2, history 1 2 3 1 2 3 1 2 3 1: "3 1 2 3 1" occurred at 2, followed by 2 3 1: all match, 3 accepted,
        //   only 3 of the 4 tokens are taken (8 new tokens)
        long[] r = NgramRule.replay(new int[] {1, 2, 3, 1, 2}, new int[] {3, 1, 2, 3, 1, 2, 3, 1, 2, 3, 1}, 8, 4, 2, 5);
        assertArrayEquals(new long[] {6, 2}, r);
    }
}
