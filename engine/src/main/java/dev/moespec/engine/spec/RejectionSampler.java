package dev.moespec.engine.spec;

import java.util.random.RandomGenerator;

/**
 * The speculative-decoding verifier (Leviathan et al. 2211.17192, as vLLM's rejection sampler), CPU reference.
 *
 * <ul>
 *   <li><b>Greedy</b>: emit the target's argmax at each position, stop after the first position where the draft
 *       differs (the argmax there is the correction); if every draft matches, append the argmax of the last
 *       position (bonus). Greedy speculative output therefore equals greedy decoding token for token.</li>
 *   <li><b>Probabilistic</b>: accept draft d at position i when {@code p_draft(d) > 0} and
 *       {@code p_target(d) / p_draft(d) ≥ u}, u ~ U[0,1); on the first rejection emit a token drawn from
 *       {@code max(p_target − p_draft, 0)} (normalised) and stop; if all are accepted, draw the bonus from the
 *       last target distribution. The emitted tokens are distributed exactly as the target's.
 *       A drafter without probabilities counts as one-hot on its token (n-gram).</li>
 * </ul>
 * Ties in argmax go to the lower token id, as in greedy decoding.
 */
public final class RejectionSampler {
    private RejectionSampler() {}

    public static VerificationResult greedy(Verification v) {
        int k = v.k();
        int[] out = new int[k + 1];
        for (int i = 0; i < k; i++) {
            int best = argmax(v.targetProbs()[i]);
            out[i] = best;
            if (best != v.draftTokens()[i]) {
                return new VerificationResult(java.util.Arrays.copyOf(out, i + 1), i);
            }
        }
        out[k] = argmax(v.targetProbs()[k]);
        return new VerificationResult(out, k);
    }

    public static VerificationResult probabilistic(Verification v, RandomGenerator random) {
        int k = v.k();
        int[] out = new int[k + 1];
        for (int i = 0; i < k; i++) {
            int d = v.draftTokens()[i];
            float[] target = v.targetProbs()[i];
            float pDraft = v.draftProbs() == null ? 1f : v.draftProbs()[i][d];
            if (pDraft > 0f && target[d] / pDraft >= random.nextDouble()) {
                out[i] = d;
                continue;
            }
            out[i] = sample(recovered(target, v.draftProbs() == null ? null : v.draftProbs()[i], d), random);
            return new VerificationResult(java.util.Arrays.copyOf(out, i + 1), i);
        }
        out[k] = sample(v.targetProbs()[k], random);
        return new VerificationResult(out, k);
    }

    /** max(p_target − p_draft, 0); for a one-hot drafter, p_target with the drafted token removed. */
    static double[] recovered(float[] target, float[] draft, int drafted) {
        double[] r = new double[target.length];
        double sum = 0;
        for (int t = 0; t < target.length; t++) {
            double q = draft == null ? (t == drafted ? 1 : 0) : draft[t];
            r[t] = Math.max(target[t] - q, 0);
            sum += r[t];
        }
        if (sum <= 0) {
            // p_target == p_draft exactly: a rejection has probability 0; fall back to the target itself
            for (int t = 0; t < target.length; t++) r[t] = target[t];
        }
        return r;
    }

    /** Inverse-CDF draw from unnormalised weights. */
    static int sample(double[] weights, RandomGenerator random) {
        double total = 0;
        for (double w : weights) total += w;
        double u = random.nextDouble() * total;
        int last = -1;
        for (int t = 0; t < weights.length; t++) {
            if (weights[t] <= 0) continue;
            last = t;
            u -= weights[t];
            if (u < 0) return t;
        }
        if (last < 0) throw new IllegalArgumentException("cannot sample from an all-zero distribution");
        return last;
    }

    static int sample(float[] probs, RandomGenerator random) {
        double[] w = new double[probs.length];
        for (int t = 0; t < probs.length; t++) w[t] = probs[t];
        return sample(w, random);
    }

    static int argmax(float[] p) {
        int best = 0;
        for (int t = 1; t < p.length; t++) if (p[t] > p[best]) best = t;
        return best;
    }
}
