package dev.moespec.engine.spec;

import org.junit.jupiter.api.Test;

import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class RejectionSamplerTest {
    private static final float[] P0 = {0.1f, 0.5f, 0.3f, 0.1f};
    private static final float[] P1 = {0.4f, 0.1f, 0.1f, 0.4f};
    private static final float[] Q0 = {0.25f, 0.25f, 0.25f, 0.25f};
    private static final float[] Q1 = {0.7f, 0.1f, 0.1f, 0.1f};
    private static final float[] BONUS = {0.05f, 0.05f, 0.8f, 0.1f};

    @Test
    void greedyAcceptsMatchingDraftsAndAppendsTheBonus() {
        var v = new Verification(new int[] {1, 0}, null, new float[][] {P0, P1, BONUS});
        assertEquals(new VerificationResult(new int[] {1, 0, 2}, 2), RejectionSampler.greedy(v));
    }

    @Test
    void greedyStopsAtTheFirstMismatchWithTheTargetsToken() {
        var v = new Verification(new int[] {2, 0}, null, new float[][] {P0, P1, BONUS});
        assertEquals(new VerificationResult(new int[] {1}, 0), RejectionSampler.greedy(v));
    }

    @Test
    void greedyBreaksTiesTowardsTheLowerTokenLikeGreedyDecoding() {
        // P1 has a tie between tokens 0 and 3
        var v = new Verification(new int[] {1, 3}, null, new float[][] {P0, P1, BONUS});
        assertEquals(new VerificationResult(new int[] {1, 0}, 1), RejectionSampler.greedy(v));
    }

    @Test
    void aDrafterIdenticalToTheTargetIsAlwaysAccepted() {
        var random = new SplittableRandom(1);
        for (int n = 0; n < 1000; n++) {
            int d0 = RejectionSampler.sample(P0, random), d1 = RejectionSampler.sample(P1, random);
            var r = RejectionSampler.probabilistic(new Verification(new int[] {d0, d1}, new float[][] {P0, P1},
                    new float[][] {P0, P1, BONUS}), random);
            assertEquals(2, r.accepted());
        }
    }

    /** The output distribution equals the target's, whatever the drafter: position 0, and position 1 after acceptance. */
    @Test
    void emittedTokensAreDistributedAsTheTarget() {
        var random = new SplittableRandom(42);
        int n = 200_000;
        long[] first = new long[4], second = new long[4];
        long secondCount = 0;
        for (int i = 0; i < n; i++) {
            int d0 = RejectionSampler.sample(Q0, random), d1 = RejectionSampler.sample(Q1, random);
            var r = RejectionSampler.probabilistic(new Verification(new int[] {d0, d1}, new float[][] {Q0, Q1},
                    new float[][] {P0, P1, BONUS}), random);
            first[r.tokens()[0]]++;
            if (r.accepted() >= 1) {
                second[r.tokens()[1]]++;
                secondCount++;
            }
        }
        assertMatches(P0, first, n);
        assertMatches(P1, second, secondCount);
    }

    @Test
    void aDrafterWithoutProbabilitiesCountsAsOneHot() {
        var random = new SplittableRandom(7);
        int n = 100_000;
        long[] first = new long[4];
        for (int i = 0; i < n; i++) {
            // an n-gram drafter always proposes token 2
            var r = RejectionSampler.probabilistic(new Verification(new int[] {2}, null, new float[][] {P0, BONUS}), random);
            first[r.tokens()[0]]++;
        }
        assertMatches(P0, first, n);
    }

    @Test
    void statsUseVllmDefinitions() {
        var stats = new SpecDecodeStats(3);
        stats.record(3, new VerificationResult(new int[] {1, 2, 3, 4}, 3));
        stats.record(3, new VerificationResult(new int[] {1}, 0));
        stats.record(2, new VerificationResult(new int[] {5, 6}, 1));
        stats.record(0, new VerificationResult(new int[] {7}, 0));
        var s = stats.snapshot();
        assertEquals(3, s.drafts());
        assertEquals(8, s.draftTokens());
        assertEquals(4, s.acceptedTokens());
        assertEquals(0.5, s.acceptanceRate(), 1e-12);
        assertEquals(1 + 4 / 3.0, s.meanAcceptanceLength(), 1e-12);
        assertArrayEquals(new double[] {2 / 3.0, 1 / 3.0, 1 / 3.0}, s.perPositionAcceptance(), 1e-12);
    }

    @Test
    void verificationShapesAreChecked() {
        var e = assertThrows(IllegalArgumentException.class,
                () -> new Verification(new int[] {1}, null, new float[][] {P0}));
        assertTrue(e.getMessage().contains("k+1=2"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class,
                () -> new Verification(new int[] {9}, null, new float[][] {P0, P1}));
        assertTrue(e.getMessage().contains("outside the vocabulary"), e.getMessage());
    }

    /** Every count within 5 standard deviations of its binomial expectation. */
    private static void assertMatches(float[] p, long[] counts, long n) {
        for (int t = 0; t < p.length; t++) {
            double expected = n * p[t];
            double sigma = Math.sqrt(n * p[t] * (1 - p[t]));
            assertTrue(Math.abs(counts[t] - expected) <= 5 * sigma + 1,
                    "token " + t + ": " + counts[t] + " vs expected " + expected + " (sigma " + sigma + ")");
        }
    }
}
