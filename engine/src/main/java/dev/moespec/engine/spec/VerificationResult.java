package dev.moespec.engine.spec;

import java.util.Arrays;

/**
 * What one verification step emits for one sequence.
 *
 * @param tokens   the emitted tokens: the accepted drafts, then either the correction (recovered) token at the
 *                 first rejection or, when every draft was accepted, the bonus token; length accepted + 1
 * @param accepted how many drafts were accepted (0..k); the caches roll back to keep exactly these
 */
public record VerificationResult(int[] tokens, int accepted) {
    public VerificationResult {
        tokens = tokens.clone();
        if (accepted < 0 || tokens.length != accepted + 1) {
            throw new IllegalArgumentException("tokens must hold accepted+1 entries: accepted=" + accepted
                    + ", tokens=" + Arrays.toString(tokens));
        }
    }

    @Override
    public int[] tokens() {
        return tokens.clone();
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof VerificationResult r && r.accepted == accepted && Arrays.equals(r.tokens, tokens);
    }

    @Override
    public int hashCode() {
        return 31 * Arrays.hashCode(tokens) + accepted;
    }

    @Override
    public String toString() {
        return "VerificationResult[tokens=" + Arrays.toString(tokens) + ", accepted=" + accepted + "]";
    }
}
