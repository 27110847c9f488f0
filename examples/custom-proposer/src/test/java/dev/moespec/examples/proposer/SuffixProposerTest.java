package dev.moespec.examples.proposer;

import dev.moespec.api.proposer.ProposalRequest;
import dev.moespec.api.proposer.ProposerRegistry;
import dev.moespec.api.proposer.ProposerSettings;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

class SuffixProposerTest {

    @Test
    void followsTheContinuationMostOccurrencesAgreeOn() {
        // "a b c" occurs three times: followed by x, x then y; the majority wins over the most recent
        int[] h = {1, 2, 3, 9, 1, 2, 3, 9, 1, 2, 3, 7, 5, 1, 2, 3};
        assertArrayEquals(new int[] {9, 1, 2}, SuffixProposer.draft(h, 3));
    }

    @Test
    void tiesGoToTheMostRecentOccurrenceAndTheDraftStopsWhenTheHistoryEnds() {
        int[] h = {4, 5, 6, 4, 5, 8, 4, 5};
        assertArrayEquals(new int[] {8, 4, 5}, SuffixProposer.draft(h, 4));
    }

    @Test
    void noRecurringSuffixMeansNoProposalAndMaxModelLenIsRespected() {
        assertEquals(0, SuffixProposer.draft(new int[] {1, 2, 3, 4}, 4).length);
        var p = new SuffixProposerProvider().create(new ProposerSettings(4, 1, 1, 9, 320));
        var request = ProposalRequest.of(new int[] {1, 2, 1, 2, 1, 2, 1, 2});
        var proposal = p.propose(request);
        assertArrayEquals(new int[] {1}, proposal.tokens(0));
        proposal.requireValidFor("suffix", request, new ProposerSettings(4, 1, 1, 9, 320));
    }

    @Test
    void theServicesLineRegistersTheMethod() {
        assertEquals("suffix", ProposerRegistry.load(getClass().getClassLoader()).require("suffix").method());
    }
}
