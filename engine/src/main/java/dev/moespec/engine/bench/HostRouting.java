package dev.moespec.engine.bench;

import java.util.BitSet;

/**
 * The experts a batch hits, computed on the host with the layer's rule (softmax over all experts in fp32, top-k,
 * ties to the lower index, as {@code cpu_reference} routes): the GB/s column counts the weights of these experts,
 * each once, as the anchors do.
 */
final class HostRouting {
    private HostRouting() {}

    /** The distinct experts chosen by the first {@code tokens} rows of {@code logits[*, numExperts]}. */
    static BitSet expertsHit(float[] logits, int tokens, int numExperts, int topK) {
        BitSet hit = new BitSet(numExperts);
        float[] p = new float[numExperts];
        boolean[] taken = new boolean[numExperts];
        for (int t = 0; t < tokens; t++) {
            int off = t * numExperts;
            float max = Float.NEGATIVE_INFINITY;
            for (int x = 0; x < numExperts; x++) max = Math.max(max, logits[off + x]);
            float sum = 0f;
            for (int x = 0; x < numExperts; x++) {
                p[x] = (float) Math.exp(logits[off + x] - max);
                sum += p[x];
            }
            for (int x = 0; x < numExperts; x++) {
                p[x] /= sum;
                taken[x] = false;
            }
            for (int j = 0; j < topK; j++) {
                int best = -1;
                for (int x = 0; x < numExperts; x++) {
                    if (!taken[x] && (best < 0 || p[x] > p[best])) best = x;
                }
                taken[best] = true;
                hit.set(best);
            }
        }
        return hit;
    }
}
