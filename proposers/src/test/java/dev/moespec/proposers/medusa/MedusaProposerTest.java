package dev.moespec.proposers.medusa;

import dev.moespec.api.proposer.DraftHeads;
import dev.moespec.api.proposer.ProposalRequest;
import dev.moespec.api.proposer.ProposerContext;
import dev.moespec.api.proposer.ProposerSettings;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

class MedusaProposerTest {
    /** Head i proposes (feature + i + 1) mod 10. */
    private static final DraftHeads HEADS = new DraftHeads() {
        @Override
        public int numHeads() {
            return 3;
        }

        @Override
        public float[][] logits(float[] h) {
            float[][] out = new float[3][10];
            for (int i = 0; i < 3; i++) out[i][((int) h[0] + i + 1) % 10] = 1;
            return out;
        }
    };

    private static ProposerContext context(int k) {
        return new ProposerContext() {
            @Override
            public ProposerSettings settings() {
                return new ProposerSettings(k, 1, 1, 100, 10);
            }

            @Override
            public DraftHeads openDraftHeads() {
                return HEADS;
            }
        };
    }

    @Test
    void readsTheFeatureThatProducedTheLastCommittedTokenAndChainsTheTopOneOfEachHead() {
        var p = new MedusaProposerProvider().create(context(2));
        List<float[]> features = List.of(new float[] {3}, new float[] {5}, new float[] {7});
        // n = 4 committed tokens: the feature of position n-2 = 2
        int[] d = p.propose(new ProposalRequest(List.of(new int[] {1, 2, 3, 4}), List.of(0L), List.of(features))).tokens(0);
        assertArrayEquals(new int[] {8, 9}, d);
    }

    @Test
    void moreTokensThanHeadsIsRefusedWithTheLimit() {
        var e = assertThrows(IllegalArgumentException.class, () -> new MedusaProposerProvider().create(context(4)));
        assertEquals("medusa has 3 heads, so it drafts at most 3 tokens per step; set \"num_speculative_tokens\" to at"
                + " most 3 (got 4)", e.getMessage());
    }
}
