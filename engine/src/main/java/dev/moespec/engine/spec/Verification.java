package dev.moespec.engine.spec;

import java.util.Arrays;
import java.util.Objects;

/**
 * One sequence's verification step: the k draft tokens, the drafter's probabilities for them (absent for
 * drafters without a distribution, such as n-gram lookup: p_draft is then 1 for the proposed token), and the
 * target's probabilities at the k + 1 positions it scored (the last one gives the bonus token).
 *
 * @param draftTokens  k proposed tokens, k ≥ 0
 * @param draftProbs   {@code [k][V]} drafter distributions, or null
 * @param targetProbs  {@code [k+1][V]} target distributions after temperature / top-k / top-p
 */
public record Verification(int[] draftTokens, float[][] draftProbs, float[][] targetProbs) {
    public Verification {
        Objects.requireNonNull(draftTokens, "draftTokens");
        Objects.requireNonNull(targetProbs, "targetProbs");
        int k = draftTokens.length;
        if (targetProbs.length != k + 1) {
            throw new IllegalArgumentException("targetProbs must have k+1=" + (k + 1) + " rows, got " + targetProbs.length);
        }
        int vocab = targetProbs[0].length;
        if (draftProbs != null && draftProbs.length != k) {
            throw new IllegalArgumentException("draftProbs must have k=" + k + " rows, got " + draftProbs.length);
        }
        for (int i = 0; i < k; i++) {
            if (draftTokens[i] < 0 || draftTokens[i] >= vocab) {
                throw new IllegalArgumentException("draft token " + draftTokens[i] + " at position " + i
                        + " is outside the vocabulary [0, " + vocab + ")");
            }
        }
    }

    public int k() {
        return draftTokens.length;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof Verification v && Arrays.equals(v.draftTokens, draftTokens)
                && Arrays.deepEquals(v.draftProbs, draftProbs) && Arrays.deepEquals(v.targetProbs, targetProbs);
    }

    @Override
    public int hashCode() {
        return Objects.hash(Arrays.hashCode(draftTokens), Arrays.deepHashCode(draftProbs), Arrays.deepHashCode(targetProbs));
    }

    @Override
    public String toString() {
        return "Verification[k=" + k() + ", drafts=" + Arrays.toString(draftTokens) + "]";
    }
}
