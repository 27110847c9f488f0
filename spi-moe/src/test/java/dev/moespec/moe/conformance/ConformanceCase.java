package dev.moespec.moe.conformance;

import dev.moespec.api.config.QuantScheme;
import dev.moespec.moe.MoeLayerSpec;
import dev.moespec.moe.Routing;

import java.util.List;
import java.util.Random;

/**
 * One layer shape of the conformance matrix. Sizes are deliberately not multiples of 16/64/128 (except the
 * {@code aligned} case, there for backends with alignment rules), expert counts reach 256 with small H/I to keep CPU
 * time low, and {@code skewed} cases steer tokens to a few experts so that most experts receive none.
 */
public record ConformanceCase(String name, int experts, int topK, int hidden, int intermediate, Routing routing,
                              boolean skewed, long seed) {

    /** Token counts every case runs with: empty, single-token decode, odd, the decode/prefill boundary, prefill. */
    public static final List<Integer> TOKEN_COUNTS = List.of(0, 1, 7, 64, 200);
    /** The layers' maxTokens: above every entry of {@link #TOKEN_COUNTS}. */
    public static final int MAX_TOKENS = 256;

    public MoeLayerSpec layer(QuantScheme quant) {
        return new MoeLayerSpec(experts, topK, hidden, intermediate, MoeLayerSpec.Activation.SILU, routing, quant, MAX_TOKENS);
    }

    @Override
    public String toString() {
        return name + " (E=" + experts + " top-" + topK + " H=" + hidden + " I=" + intermediate + " " + routing.describe() + ")";
    }

    /** The matrix. Seeds are fixed: a failure reproduces. */
    public static List<ConformanceCase> all() {
        return List.of(
                new ConformanceCase("small", 8, 2, 72, 40, new Routing.SoftmaxTopK(true), false, 11),
                new ConformanceCase("top1", 12, 1, 56, 24, new Routing.SoftmaxTopK(false), false, 12),
                new ConformanceCase("experts256", 256, 4, 40, 24, new Routing.SoftmaxTopK(true), false, 13),
                new ConformanceCase("partial-blocks", 6, 2, 200, 136, new Routing.SoftmaxTopK(true), false, 14),
                new ConformanceCase("skewed", 32, 2, 48, 40, new Routing.SoftmaxTopK(false), true, 15),
                new ConformanceCase("grouped", 16, 4, 88, 48, grouped(16, 4, 2, true, 2.5f, 16), false, 16),
                new ConformanceCase("grouped256", 256, 8, 40, 24, grouped(256, 8, 4, false, 1f, 17), true, 17),
                new ConformanceCase("aligned", 16, 4, 256, 128, new Routing.SoftmaxTopK(true), false, 18));
    }

    private static Routing grouped(int experts, int groups, int topKGroups, boolean renormalize, float scaling, long seed) {
        Random random = new Random(seed);
        float[] bias = new float[experts];
        for (int e = 0; e < experts; e++) bias[e] = (float) (random.nextGaussian() * 0.1);
        return new Routing.SigmoidGroupedTopK(groups, topKGroups, renormalize, scaling, bias);
    }
}
