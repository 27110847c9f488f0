package dev.moespec.engine.model;

import dev.moespec.api.tensor.DType;
import dev.moespec.api.tensor.HostTensors;
import dev.moespec.api.tensor.Tensor;
import dev.moespec.moe.MoeKernel;
import dev.moespec.moe.MoeLayerSpec;
import dev.moespec.moe.MoeTensorChecks;
import dev.moespec.moe.MoeWeights;
import dev.moespec.moe.Routing;

import java.util.Set;
import java.util.stream.IntStream;

/**
 * The MoE block exactly as FORMAT.md §4.4 writes it, in fp32 with activations NOT quantised: softmax over all
 * experts, top-k, renormalise, experts accumulated in index order. This is the math {@code golden.json} was made
 * with; the SPI's {@code cpu_reference} instead rounds activations as the GPU kernels do, so it cannot reproduce
 * golden logits to 1e-3. Used by {@link MoeExecution#EXACT_FP32} for verification; not a registered backend.
 */
final class ExactFp32MoeKernel implements MoeKernel {
    static final String NAME = "exact_fp32";

    private final MoeLayerSpec layer;
    private float[] w13;
    private float[] w2;

    ExactFp32MoeKernel(MoeLayerSpec layer) {
        if (!(layer.routing() instanceof Routing.SoftmaxTopK)) {
            throw new IllegalArgumentException("exact_fp32 implements softmax top-k routing only, got " + layer.routing().describe());
        }
        this.layer = layer;
    }

    @Override
    public String backend() {
        return NAME;
    }

    @Override
    public MoeLayerSpec layer() {
        return layer;
    }

    @Override
    public void loadWeights(MoeWeights weights) {
        int e = layer.numExperts(), h = layer.hiddenSize(), i = layer.intermediateSize();
        MoeTensorChecks.requireShape("w13", weights.w13(), e, 2L * i, h);
        MoeTensorChecks.requireShape("w2", weights.w2(), e, h, i);
        w13 = HostTensors.toFloats(weights.w13());
        w2 = HostTensors.toFloats(weights.w2());
    }

    @Override
    public void forward(Tensor hidden, Tensor routerLogits, Tensor out, long stream) {
        int m = MoeTensorChecks.checkForward(layer, hidden, routerLogits, out, Set.of(DType.F32), Tensor.Placement.HOST);
        float[] x = HostTensors.toFloats(hidden), r = HostTensors.toFloats(routerLogits);
        float[] y = new float[m * layer.hiddenSize()];
        IntStream.range(0, m).parallel().forEach(t -> token(x, r, y, t));
        for (int n = 0; n < y.length; n++) HostTensors.set(out, n, y[n]);
    }

    private void token(float[] x, float[] logits, float[] y, int t) {
        int e = layer.numExperts(), k = layer.topK(), h = layer.hiddenSize(), i = layer.intermediateSize();
        float[] p = new float[e];
        float max = Float.NEGATIVE_INFINITY;
        for (int j = 0; j < e; j++) max = Math.max(max, logits[t * e + j]);
        float sum = 0f;
        for (int j = 0; j < e; j++) sum += p[j] = (float) Math.exp(logits[t * e + j] - max);
        for (int j = 0; j < e; j++) p[j] /= sum;
        int[] top = TopK.indices(p, k);
        float norm = 0f;
        for (int j : top) norm += p[j];
        boolean renorm = ((Routing.SoftmaxTopK) layer.routing()).renormalize();
        java.util.Arrays.sort(top); // experts accumulated in index order, as golden was made
        float[] inter = new float[i];
        for (int expert : top) {
            float w = renorm ? p[expert] / norm : p[expert];
            int gate = expert * 2 * i * h, up = gate + i * h;
            for (int n = 0; n < i; n++) {
                float g = 0f, u = 0f;
                for (int c = 0; c < h; c++) {
                    g += w13[gate + n * h + c] * x[t * h + c];
                    u += w13[up + n * h + c] * x[t * h + c];
                }
                inter[n] = Ops.silu(g) * u;
            }
            int down = expert * h * i;
            for (int n = 0; n < h; n++) {
                float acc = 0f;
                for (int c = 0; c < i; c++) acc += w2[down + n * i + c] * inter[c];
                y[t * h + n] += w * acc;
            }
        }
    }

    @Override
    public void close() {
        w13 = null;
        w2 = null;
    }
}
