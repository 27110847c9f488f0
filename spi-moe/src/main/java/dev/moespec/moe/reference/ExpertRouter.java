package dev.moespec.moe.reference;

import dev.moespec.moe.MoeLayerSpec;
import dev.moespec.moe.Routing;

import java.util.Optional;

/**
 * fp32 routing as vLLM's {@code fused_topk} / {@code grouped_topk} compute it (vllm-spec §4.2). Ties go to the
 * lower expert (or group) index, which is what a stable descending sort gives.
 */
final class ExpertRouter {
    private ExpertRouter() {}

    /** The top-k experts of one token, best first, and their weights. */
    record Route(int[] experts, float[] weights) {}

    /** Why {@code layer}'s routing cannot be computed, if it cannot (inconsistent grouped-top-k parameters). */
    static Optional<String> problem(MoeLayerSpec layer) {
        if (!(layer.routing() instanceof Routing.SigmoidGroupedTopK g)) return Optional.empty();
        int e = layer.numExperts();
        if (e % g.numGroups() != 0) {
            return Optional.of("numExperts=" + e + " is not divisible by numGroups=" + g.numGroups());
        }
        if (g.correctionBias().length != e) {
            return Optional.of("correctionBias has " + g.correctionBias().length + " entries, expected numExperts=" + e);
        }
        int selectable = g.topKGroups() * (e / g.numGroups());
        if (layer.topK() > selectable) {
            return Optional.of("top-" + layer.topK() + " cannot be taken from topKGroups=" + g.topKGroups()
                    + " groups of " + (e / g.numGroups()) + " experts");
        }
        return Optional.empty();
    }

    /** Routes one token whose logits are {@code logits[offset, offset + E)}. */
    static Route route(Routing routing, int topK, float[] logits, int offset, int numExperts) {
        return switch (routing) {
            case Routing.SoftmaxTopK s -> softmaxTopK(s, topK, logits, offset, numExperts);
            case Routing.SigmoidGroupedTopK g -> sigmoidGroupedTopK(g, topK, logits, offset, numExperts);
        };
    }

    private static Route softmaxTopK(Routing.SoftmaxTopK s, int topK, float[] logits, int offset, int n) {
        float max = Float.NEGATIVE_INFINITY;
        for (int i = 0; i < n; i++) max = Math.max(max, logits[offset + i]);
        float[] p = new float[n];
        float sum = 0f;
        for (int i = 0; i < n; i++) {
            p[i] = (float) Math.exp(logits[offset + i] - max);
            sum += p[i];
        }
        for (int i = 0; i < n; i++) p[i] /= sum;
        int[] ids = topK(p, null, topK);
        float[] w = gather(p, ids);
        if (s.renormalize()) renormalize(w);
        return new Route(ids, w);
    }

    private static Route sigmoidGroupedTopK(Routing.SigmoidGroupedTopK g, int topK, float[] logits, int offset, int n) {
        float[] bias = g.correctionBias();
        float[] scores = new float[n];
        float[] biased = new float[n];
        for (int i = 0; i < n; i++) {
            scores[i] = (float) (1.0 / (1.0 + Math.exp(-logits[offset + i])));
            biased[i] = scores[i] + bias[i];
        }
        int groupSize = n / g.numGroups();
        float[] groupScore = new float[g.numGroups()];
        for (int grp = 0; grp < g.numGroups(); grp++) {
            // sum of the group's top-2 biased scores (a group of one scores its only expert)
            float first = Float.NEGATIVE_INFINITY, second = Float.NEGATIVE_INFINITY;
            for (int i = grp * groupSize; i < (grp + 1) * groupSize; i++) {
                if (biased[i] > first) {
                    second = first;
                    first = biased[i];
                } else if (biased[i] > second) {
                    second = biased[i];
                }
            }
            groupScore[grp] = groupSize >= 2 ? first + second : first;
        }
        boolean[] allowed = new boolean[n];
        for (int grp : topK(groupScore, null, g.topKGroups())) {
            for (int i = grp * groupSize; i < (grp + 1) * groupSize; i++) allowed[i] = true;
        }
        int[] ids = topK(biased, allowed, topK);
        float[] w = gather(scores, ids); // weights come from the unbiased scores
        if (g.renormalize()) renormalize(w);
        for (int j = 0; j < w.length; j++) w[j] *= g.routedScalingFactor();
        return new Route(ids, w);
    }

    /** Indices of the k largest values among {@code allowed} (null = all), best first, lower index on ties. */
    static int[] topK(float[] values, boolean[] allowed, int k) {
        int[] ids = new int[k];
        boolean[] taken = new boolean[values.length];
        for (int j = 0; j < k; j++) {
            int best = -1;
            for (int i = 0; i < values.length; i++) {
                if (taken[i] || (allowed != null && !allowed[i])) continue;
                if (best < 0 || values[i] > values[best]) best = i;
            }
            ids[j] = best;
            taken[best] = true;
        }
        return ids;
    }

    private static float[] gather(float[] values, int[] ids) {
        float[] out = new float[ids.length];
        for (int j = 0; j < ids.length; j++) out[j] = values[ids[j]];
        return out;
    }

    private static void renormalize(float[] w) {
        float sum = 0f;
        for (float v : w) sum += v;
        for (int j = 0; j < w.length; j++) w[j] /= sum;
    }
}
