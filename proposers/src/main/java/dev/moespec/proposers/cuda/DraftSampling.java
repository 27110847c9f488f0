package dev.moespec.proposers.cuda;

/**
 * How {@link GpuDraftSampler} picks one row's draft token, with the engine's sampling semantics (vLLM's):
 * {@code temperature} 0 = greedy argmax; else softmax(logits / T) restricted to the top-k ({@code topK} ≤ 0 = all)
 * and then to the smallest most-likely set reaching {@code topP}, renormalised, and the token where the kept mass,
 * in id order, first exceeds {@code u}.
 *
 * @param temperature ≥ 0 and finite; 0 = greedy
 * @param topK        -1 or 0 = all tokens, else the k most likely
 * @param topP        in (0, 1]; 1 = no nucleus cut
 * @param u           a uniform draw in [0, 1) the caller takes from the sequence's seeded generator (unused when greedy)
 */
public record DraftSampling(double temperature, int topK, double topP, double u) {
    /** Argmax, ties to the lowest id. */
    public static final DraftSampling GREEDY = new DraftSampling(0, 0, 1, 0);

    public DraftSampling {
        if (!(temperature >= 0) || Double.isInfinite(temperature)) {
            throw new IllegalArgumentException("temperature must be a finite number >= 0 (0 = greedy), got " + temperature);
        }
        if (topK < -1) throw new IllegalArgumentException("top_k must be -1 or 0 (all tokens) or >= 1, got " + topK);
        if (!(topP > 0 && topP <= 1)) throw new IllegalArgumentException("top_p must be in (0, 1], got " + topP);
        if (!(u >= 0 && u < 1)) {
            throw new IllegalArgumentException("u must be a uniform draw in [0, 1), got " + u
                    + "; take it from the sequence's generator (nextDouble())");
        }
    }

    /** Whether this row is drawn by argmax. */
    public boolean isGreedy() {
        return temperature == 0;
    }
}
