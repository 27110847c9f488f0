package dev.moespec.engine.bench;

import dev.moespec.api.tensor.DType;
import dev.moespec.api.tensor.HostTensors;
import dev.moespec.api.tensor.Tensor;
import dev.moespec.moe.MoeLayerSpec;
import dev.moespec.moe.MoeWeights;
import dev.moespec.moe.Routing;
import dev.moespec.moe.reference.CpuReferenceKernel;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.BitSet;
import java.util.Optional;

/**
 * The error column: {@code ‖ours − ref‖ / ‖ref‖} (Frobenius) against {@code cpu_reference} on the same inputs.
 *
 * <p>The reference runs on the experts the batch hits only: with softmax top-k <em>renormalised</em> routing a
 * token's weights are {@code exp(l_i) / Σ_chosen exp(l_j)}, which does not depend on the experts it did not
 * choose, and its top-k stay the top-k of any subset that contains them. So a layer of the hit experts, with the
 * logits of those columns, computes the same function, and a Mixtral-sized layer at small M needs a fraction
 * of the memory and time. Rows whose hit experts still hold more than {@link #MAX_ELEMENTS} weights, or with M
 * above {@link #MAX_TOKENS}, get no error ("n/a") — the fp32 CPU would take too long.
 */
final class ReferenceCheck {
    /** Weights (elements) of the hit experts the CPU reference is given at most: 1 GiB as fp32. */
    static final long MAX_ELEMENTS = 1L << 28;
    /** Largest M checked. */
    static final int MAX_TOKENS = 16;

    private ReferenceCheck() {}

    /** Why this row gets no error, or empty when it does. */
    static Optional<String> skipReason(BenchShape s, int tokens, int hitCount) {
        if (tokens > MAX_TOKENS) return Optional.of("n/a: M > " + MAX_TOKENS);
        long elements = 3L * s.hiddenSize() * s.intermediateSize() * hitCount;
        if (elements > MAX_ELEMENTS) {
            return Optional.of("n/a: " + hitCount + " experts hit hold " + elements / 1_000_000 + "M weights, above the CPU reference budget of "
                    + MAX_ELEMENTS / 1_000_000 + "M");
        }
        return Optional.empty();
    }

    /**
     * cpu_reference's output {@code [tokens, H]} in fp32.
     *
     * @param hidden bf16-exact activations {@code [≥tokens, H]} (what the kernel under test was given)
     * @param logits router logits {@code [≥tokens, E]}
     */
    static float[] reference(BenchShape s, BenchDtype dtype, MoeWeights weights, BitSet hit, float[] hidden, float[] logits,
                             int tokens) {
        int e = s.numExperts(), h = s.hiddenSize(), i = s.intermediateSize();
        int[] experts = hit.stream().toArray();
        int sub = experts.length;
        MoeLayerSpec layer = new MoeLayerSpec(sub, s.topK(), h, i, MoeLayerSpec.Activation.SILU,
                new Routing.SoftmaxTopK(true), dtype.quant(), tokens);
        try (Arena arena = Arena.ofConfined();
             CpuReferenceKernel kernel = new CpuReferenceKernel(layer)) {
            MoeWeights subset = new MoeWeights(slice(arena, weights.w13(), experts), slice(arena, weights.w2(), experts),
                    weights.w13Scale().map(t -> slice(arena, t, experts)), weights.w2Scale().map(t -> slice(arena, t, experts)));
            kernel.loadWeights(subset);
            float[] subLogits = new float[tokens * sub];
            for (int t = 0; t < tokens; t++) {
                for (int j = 0; j < sub; j++) subLogits[t * sub + j] = logits[t * e + experts[j]];
            }
            float[] x = new float[tokens * h];
            System.arraycopy(hidden, 0, x, 0, x.length);
            Tensor out = HostTensors.allocate(arena, DType.F32, tokens, h);
            kernel.forward(HostTensors.fromFloats(arena, DType.F32, x, tokens, h),
                    HostTensors.fromFloats(arena, DType.F32, subLogits, tokens, sub), out, 0L);
            return HostTensors.toFloats(out);
        }
    }

    /** The experts {@code experts} of a stacked tensor {@code [E, ...]} (weights or scales), same dtype. */
    private static Tensor slice(Arena arena, Tensor stacked, int[] experts) {
        long[] shape = stacked.shape();
        long perExpert = stacked.byteSize() / shape[0];
        shape[0] = experts.length;
        Tensor out = HostTensors.allocate(arena, stacked.dtype(), shape);
        for (int j = 0; j < experts.length; j++) {
            MemorySegment.copy(stacked.data(), experts[j] * perExpert, out.data(), j * perExpert, perExpert);
        }
        return out;
    }

    /** ‖ours − ref‖ / ‖ref‖; NaN when {@code ours} has a NaN (an unwritten or broken output). */
    static double relativeError(float[] ours, float[] ref) {
        double diff = 0, norm = 0;
        for (int k = 0; k < ref.length; k++) {
            double d = (double) ours[k] - ref[k];
            diff += d * d;
            norm += (double) ref[k] * ref[k];
        }
        return Math.sqrt(diff) / Math.sqrt(norm);
    }
}
