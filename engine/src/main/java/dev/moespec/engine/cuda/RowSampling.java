package dev.moespec.engine.cuda;

/**
 * How the GPU samples one row: {@code temperature} 0 = greedy; else softmax(logits / T) restricted to the top-k
 * ({@code topK} 0 = all) and top-p set, and the token where the kept cumulative probability (in id order) passes
 * {@code u}, a uniform draw in [0, 1) the caller takes from the sequence's seeded generator.
 */
public record RowSampling(float temperature, int topK, float topP, double u) {
    public RowSampling {
        if (!(temperature >= 0) || Float.isInfinite(temperature)) throw new IllegalArgumentException("temperature must be finite and >= 0, got " + temperature);
        if (topK < -1) throw new IllegalArgumentException("top_k must be -1, 0 (all) or >= 1, got " + topK);
        if (!(topP > 0 && topP <= 1)) throw new IllegalArgumentException("top_p must be in (0, 1], got " + topP);
        if (!(u >= 0 && u < 1)) throw new IllegalArgumentException("u must be in [0, 1), got " + u);
    }

    public static final RowSampling GREEDY = new RowSampling(0, 0, 1, 0);
}
