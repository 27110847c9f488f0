package dev.moespec.moe;

/** How router logits {@code [M, E]} become top-k expert ids and weights. */
public sealed interface Routing permits Routing.SoftmaxTopK, Routing.SigmoidGroupedTopK {

    String describe();

    /**
     * Softmax over all experts in fp32, top-k; with {@code renormalize} the k weights are divided by their sum
     * (Qwen3-MoE {@code norm_topk_prob}, Mixtral).
     */
    record SoftmaxTopK(boolean renormalize) implements Routing {
        @Override
        public String describe() {
            return renormalize ? "softmax-topk-renorm" : "softmax-topk";
        }
    }

    /**
     * DeepSeek-V3 style: sigmoid scores; selection uses {@code score + correctionBias}; experts are split in
     * {@code numGroups} groups, a group scores the sum of its top-2 biased scores, the best {@code topKGroups}
     * groups stay; top-k over the remaining experts; weights are the UNBIASED scores of the chosen experts,
     * renormalised if asked, then multiplied by {@code routedScalingFactor}.
     *
     * @param correctionBias per-expert bias of length E (may be all zeros)
     */
    record SigmoidGroupedTopK(int numGroups, int topKGroups, boolean renormalize, float routedScalingFactor,
                              float[] correctionBias) implements Routing {
        public SigmoidGroupedTopK {
            if (numGroups < 1) throw new IllegalArgumentException("numGroups must be >= 1");
            if (topKGroups < 1 || topKGroups > numGroups)
                throw new IllegalArgumentException("topKGroups must be in [1, numGroups]");
            correctionBias = correctionBias.clone();
        }

        @Override
        public float[] correctionBias() {
            return correctionBias.clone();
        }

        @Override
        public String describe() {
            return "sigmoid-grouped-topk(groups=%d, topk_groups=%d%s)".formatted(numGroups, topKGroups,
                    renormalize ? ", renorm" : "");
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof SigmoidGroupedTopK g && g.numGroups == numGroups && g.topKGroups == topKGroups
                    && g.renormalize == renormalize && Float.compare(g.routedScalingFactor, routedScalingFactor) == 0
                    && java.util.Arrays.equals(g.correctionBias, correctionBias);
        }

        @Override
        public int hashCode() {
            return java.util.Objects.hash(numGroups, topKGroups, renormalize, routedScalingFactor,
                    java.util.Arrays.hashCode(correctionBias));
        }

        @Override
        public String toString() {
            return describe();
        }
    }
}
