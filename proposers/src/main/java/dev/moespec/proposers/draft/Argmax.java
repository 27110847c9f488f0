package dev.moespec.proposers.draft;

/** Greedy choice over logits, ties to the lower id (as greedy decoding and the rejection sampler break them). */
public final class Argmax {
    private Argmax() {}

    public static int of(float[] logits) {
        int best = 0;
        for (int i = 1; i < logits.length; i++) if (logits[i] > logits[best]) best = i;
        return best;
    }
}
