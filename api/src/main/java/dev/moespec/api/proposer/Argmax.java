package dev.moespec.api.proposer;

/**
 * Greedy choice over logits, ties to the lower id (as greedy decoding and the rejection sampler break them): the one
 * rule greedy drafting ({@link DraftNetwork#forwardGreedy}), the proposers and the engine's sampler share.
 */
public final class Argmax {
    private Argmax() {}

    public static int of(float[] logits) {
        int best = 0;
        for (int i = 1; i < logits.length; i++) if (logits[i] > logits[best]) best = i;
        return best;
    }
}
