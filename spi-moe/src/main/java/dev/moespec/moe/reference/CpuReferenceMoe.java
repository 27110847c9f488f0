package dev.moespec.moe.reference;

import dev.moespec.moe.MoeLayerSpec;

import java.util.function.IntConsumer;
import java.util.stream.IntStream;

/**
 * The fused-MoE math in fp32 on the host: route, round the hidden rows to the backends' activation dtype and
 * quantise them as the GPU path would, GEMM 1 ({@code w13}), {@code SiLU(gate) * up}, re-quantise the intermediate,
 * GEMM 2 ({@code w2}), weighted sum over the top-k (vllm-spec §4.3). See {@link ActivationQuantizer} for the exact
 * FP8 recipe. The result is fp32; a GPU backend rounds it to BF16, which a caller gets by passing a BF16 {@code out}.
 * The numerical oracle of the project; deliberately plain loops.
 */
public final class CpuReferenceMoe {
    /** Below this many multiply-adds per call the fork/join overhead outweighs the parallel speed-up. */
    private static final long PARALLEL_WORK = 1L << 21;

    private final MoeLayerSpec layer;
    private final Fp32ExpertWeights weights;

    CpuReferenceMoe(MoeLayerSpec layer, Fp32ExpertWeights weights) {
        this.layer = layer;
        this.weights = weights;
    }

    public MoeLayerSpec layer() {
        return layer;
    }

    /**
     * @param hidden  {@code [m, H]} activations in fp32; rounded to the activation dtype (BF16, or F16 for FP16 layers)
     *                first, as a GPU backend only ever receives them in that dtype
     * @param logits  {@code [m, E]} router logits
     * @return {@code [m, H]} in fp32
     */
    public float[] forward(float[] hidden, float[] logits, int m) {
        int e = layer.numExperts(), k = layer.topK(), h = layer.hiddenSize(), i = layer.intermediateSize();
        float[] x = hidden.clone();
        ActivationQuantizer.roundInput(layer.quant(), x, m * h);
        ActivationQuantizer.apply(layer.quant(), x, m, h);

        int[] ids = new int[m * k];
        float[] routeWeights = new float[m * k];
        float[] inter = new float[m * k * i];
        boolean parallel = m > 1 && (long) m * k * i * h * 3 >= PARALLEL_WORK;

        forEachToken(m, parallel, t -> {
            ExpertRouter.Route route = ExpertRouter.route(layer.routing(), k, logits, t * e, e);
            for (int j = 0; j < k; j++) {
                int expert = route.experts()[j];
                ids[t * k + j] = expert;
                routeWeights[t * k + j] = route.weights()[j];
                int gateBase = expert * 2 * i * h, upBase = gateBase + i * h, row = (t * k + j) * i;
                for (int n = 0; n < i; n++) {
                    float gate = dot(weights.w13(), gateBase + n * h, x, t * h, h);
                    float up = dot(weights.w13(), upBase + n * h, x, t * h, h);
                    inter[row + n] = silu(gate) * up;
                }
            }
        });

        // the intermediate is quantised as one [m*k, I] tensor: per-tensor FP8 takes one scale over all of it
        ActivationQuantizer.apply(layer.quant(), inter, m * k, i);

        float[] out = new float[m * h];
        forEachToken(m, parallel, t -> {
            for (int j = 0; j < k; j++) {
                int w2Base = ids[t * k + j] * h * i, row = (t * k + j) * i;
                float w = routeWeights[t * k + j];
                for (int n = 0; n < h; n++) {
                    out[t * h + n] += w * dot(weights.w2(), w2Base + n * i, inter, row, i);
                }
            }
        });
        return out;
    }

    private static void forEachToken(int m, boolean parallel, IntConsumer body) {
        IntStream tokens = IntStream.range(0, m);
        (parallel ? tokens.parallel() : tokens).forEach(body);
    }

    private static float dot(float[] a, int aOff, float[] b, int bOff, int n) {
        float acc = 0f;
        for (int q = 0; q < n; q++) acc += a[aOff + q] * b[bOff + q];
        return acc;
    }

    private static float silu(float g) {
        return (float) (g / (1.0 + Math.exp(-g)));
    }
}
