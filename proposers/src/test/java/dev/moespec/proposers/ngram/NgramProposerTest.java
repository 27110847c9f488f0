package dev.moespec.proposers.ngram;

import dev.moespec.api.config.DraftConfigStrategy;
import dev.moespec.api.proposer.Proposal;
import dev.moespec.api.proposer.ProposalRequest;
import dev.moespec.api.proposer.ProposerSettings;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

class NgramProposerTest {

    private static NgramProposer ngram(int k, int min, int max, int maxModelLen) {
        return new NgramProposer(new ProposerSettings(k, min, max, maxModelLen, 1000));
    }

    private static int[] t(int... tokens) {
        return tokens;
    }

    @Test
    void repetitiveCodeContinuesFromTheMostRecentOccurrence() {
        // "for ( i ... ) {"  twice with different bodies, then the header again: follow the second loop.
        int[] history = t(1, 2, 3, 4, 5, 9, 1, 2, 3, 4, 6, 9, 1, 2, 3);
        assertArrayEquals(t(4, 6, 9), ngram(3, 2, 3, 100).proposeOne(history));
    }

    @Test
    void noEarlierOccurrenceOfTheLastTokenProposesNothing() {
        assertArrayEquals(t(), ngram(3, 1, 5, 100).proposeOne(t(1, 2, 3, 4, 5)));
    }

    @Test
    void aMatchAtTheVeryStartOfTheHistoryIsFound() {
        assertArrayEquals(t(9, 1, 2), ngram(3, 2, 4, 100).proposeOne(t(7, 8, 9, 1, 2, 7, 8)));
    }

    @Test
    void kLargerThanTheContinuationStopsAtTheEndOfTheHistory() {
        // vLLM's docstring example: [1,2,3,4,2,3], n = 2, k = 4 -> [4,2,3].
        assertArrayEquals(t(4, 2, 3), ngram(4, 2, 2, 100).proposeOne(t(1, 2, 3, 4, 2, 3)));
    }

    @Test
    void anOccurrenceMayOverlapTheSuffixAndLeavesAPartialTail() {
        // [5,5,5] occurs at 0, overlapping the suffix; only one token follows it before the history ends.
        assertArrayEquals(t(5), ngram(2, 1, 3, 100).proposeOne(t(5, 5, 5, 5)));
    }

    @Test
    void promptLookupMaxCapsTheMatchSoAShorterMoreRecentOneWins() {
        int[] history = t(1, 2, 3, 4, 8, 3, 4, 9, 2, 3, 4);
        assertArrayEquals(t(8, 3, 4), ngram(3, 1, 3, 100).proposeOne(history));  // [2,3,4] at 1
        assertArrayEquals(t(9, 2, 3), ngram(3, 1, 2, 100).proposeOne(history));  // [3,4] at 5
    }

    @Test
    void promptLookupMinRefusesMatchesShorterThanIt() {
        int[] history = t(1, 2, 3, 4, 8, 3, 4, 9, 2, 3, 4);
        assertArrayEquals(t(8, 3, 4), ngram(3, 3, 5, 100).proposeOne(history));
        assertArrayEquals(t(), ngram(3, 4, 5, 100).proposeOne(history));
    }

    @Test
    void historyShorterThanMinPlusOneProposesNothing() {
        assertArrayEquals(t(), ngram(2, 1, 1, 100).proposeOne(t(4)));
        assertArrayEquals(t(4), ngram(2, 1, 1, 100).proposeOne(t(4, 4)));
        assertArrayEquals(t(), ngram(2, 2, 2, 100).proposeOne(t(4, 4)));
        assertArrayEquals(t(), ngram(2, 1, 1, 100).proposeOne(t()));
    }

    @Test
    void proposalsNeverRunPastMaxModelLen() {
        int[] history = t(1, 2, 3, 1, 2);
        assertArrayEquals(t(3, 1, 2), ngram(5, 2, 2, 100).proposeOne(history));
        assertArrayEquals(t(3, 1), ngram(5, 2, 2, 7).proposeOne(history));
        assertArrayEquals(t(), ngram(5, 2, 2, 5).proposeOne(history));
    }

    @Test
    void aBatchIsAnsweredPerSequenceInOrderWithoutProbabilities() {
        Proposal proposal = ngram(2, 1, 3, 100).propose(ProposalRequest.of(
                t(1, 2, 3, 1, 2), t(1, 2, 3), t(), t(6, 7, 6)));
        assertEquals(4, proposal.batchSize());
        assertArrayEquals(t(3, 1), proposal.tokens(0));
        assertArrayEquals(t(), proposal.tokens(1));
        assertArrayEquals(t(), proposal.tokens(2));
        assertArrayEquals(t(7, 6), proposal.tokens(3));
        assertTrue(proposal.draftProbabilities().isEmpty());
    }

    @Test
    void theProviderIsAModelFreeSpecDecodeProposer() {
        var provider = new NgramProposerProvider();
        assertEquals("ngram", provider.method());
        assertFalse(provider.needsDraftModel());
        assertEquals(DraftConfigStrategy.FOR_SPEC_DECODE, provider.draftConfigStrategy());
        try (var proposer = provider.create(new ProposerSettings(3, 1, 2, 50, 10))) {
            assertInstanceOf(NgramProposer.class, proposer);
            var request = ProposalRequest.of(t(1, 2, 3, 1, 2));
            Proposal proposal = proposer.propose(request);
            assertArrayEquals(t(3, 1, 2), proposal.tokens(0));
            proposal.requireValidFor(provider.method(), request, new ProposerSettings(3, 1, 2, 50, 10));
        }
    }

    @Test
    void aContextWithoutADeviceKeepsTheCpuPath() {
        var settings = new ProposerSettings(2, 1, 3, 100, 10);
        assertFalse(settings.device().isCuda());
        try (var proposer = new NgramProposer(settings)) {
            assertFalse(proposer.onGpu());
            assertArrayEquals(t(3, 1), proposer.propose(ProposalRequest.of(t(1, 2, 3, 1, 2))).tokens(0));
        }
    }
}
