package dev.moespec.api.proposer;

import org.junit.jupiter.api.Test;

import java.util.Arrays;
import java.util.List;
import java.util.Optional;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ProposalTest {

    private static final ProposerContext CONTEXT = new ProposerSettings(2, 1, 3, 6, 10);

    @Test
    void nullDraftIsRejectedWithItsIndex() {
        var e = assertThrows(IllegalArgumentException.class, () -> Proposal.tokensOnly(Arrays.asList(new int[0], null)));
        assertEquals("draft tokens of sequence 1 are null; use an empty array for no proposal", e.getMessage());
    }

    @Test
    void probabilityRowsMustMatchTheDraftTokenCount() {
        var e = assertThrows(IllegalArgumentException.class, () -> new Proposal(
                List.of(new int[] {1, 2}, new int[] {3}), Optional.of(new float[2][4])));
        assertEquals("draftProbabilities has 2 rows but the proposal has 3 draft tokens;"
                + " give one row per draft token, sequence after sequence", e.getMessage());
    }

    @Test
    void probabilityRowsMustAllCoverTheVocabulary() {
        var e = assertThrows(IllegalArgumentException.class, () -> new Proposal(
                List.of(new int[] {1, 2}), Optional.of(new float[][] {new float[4], new float[3]})));
        assertEquals("draftProbabilities row 1 has length 3 but row 0 has 4; every row must cover the whole vocabulary",
                e.getMessage());
    }

    @Test
    void probabilitiesOfOneSequenceAreItsSliceOfTheFlatRows() {
        float[][] rows = {{0.1f}, {0.2f}, {0.3f}};
        var proposal = new Proposal(List.of(new int[] {1}, new int[0], new int[] {2, 3}), Optional.of(rows));
        assertEquals(3, proposal.totalDraftTokens());
        assertEquals(0, proposal.probabilities(1).orElseThrow().length);
        float[][] third = proposal.probabilities(2).orElseThrow();
        assertArrayEquals(new float[] {0.2f}, third[0]);
        assertArrayEquals(new float[] {0.3f}, third[1]);
        assertTrue(Proposal.tokensOnly(List.of(new int[] {1})).probabilities(0).isEmpty());
    }

    @Test
    void aProposalWithinTheLimitsIsValid() {
        var request = ProposalRequest.of(new int[] {1, 2, 3, 4}, new int[] {5, 6, 7, 8, 9, 9});
        assertDoesNotThrow(() -> Proposal.tokensOnly(List.of(new int[] {1, 9}, new int[0]))
                .requireValidFor("mine", request, CONTEXT));
    }

    @Test
    void requireValidForNamesTheProposerAndTheBrokenLimit() {
        var request = ProposalRequest.of(new int[] {1, 2, 3, 4, 5});
        assertEquals("Proposer 'mine' returned 2 proposals for a batch of 1 sequences; it must return exactly one"
                        + " entry per sequence",
                invalid(Proposal.tokensOnly(List.of(new int[0], new int[0])), request));
        assertEquals("Proposer 'mine' proposed 3 tokens for sequence 0 but num_speculative_tokens is 2",
                invalid(Proposal.tokensOnly(List.of(new int[] {1, 2, 3})), request));
        assertEquals("Proposer 'mine' proposed past max_model_len=6 for sequence 0 (history 5 + draft 2)",
                invalid(Proposal.tokensOnly(List.of(new int[] {1, 2})), request));
        assertEquals("Proposer 'mine' proposed token id 10 for sequence 0, outside the vocabulary [0, 10)",
                invalid(Proposal.tokensOnly(List.of(new int[] {10})), request));
        assertEquals("Proposer 'mine' returned draft probabilities over 4 tokens but the vocabulary has 10",
                invalid(new Proposal(List.of(new int[] {1}), Optional.of(new float[1][4])), request));
    }

    private static String invalid(Proposal proposal, ProposalRequest request) {
        return assertThrows(IllegalStateException.class, () -> proposal.requireValidFor("mine", request, CONTEXT))
                .getMessage();
    }
}
