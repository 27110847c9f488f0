package dev.moespec.examples.backend;

import dev.moespec.api.tensor.DType;
import dev.moespec.api.tensor.HostTensors;
import dev.moespec.api.tensor.Tensor;
import dev.moespec.moe.MoeKernel;
import dev.moespec.moe.MoeLayerSpec;
import dev.moespec.moe.MoeTensorChecks;
import dev.moespec.moe.MoeWeights;
import dev.moespec.moe.Routing;

import java.util.Arrays;
import java.util.Set;

/** Per token: softmax top-k, then for each chosen expert {@code w2 · (silu(gate) * up)}, weighted and summed. */
final class NaiveCpuMoeKernel implements MoeKernel {
    private final MoeLayerSpec layer;
    private final DType activation;
    private float[] w13;
    private float[] w2;

    NaiveCpuMoeKernel(MoeLayerSpec layer) {
        this.layer = layer;
        this.activation = switch (layer.quant()) {
            case FP16 -> DType.F16;
            default -> DType.BF16;
        };
    }

    @Override
    public String backend() {
        return NaiveCpuMoeBackendProvider.NAME;
    }

    @Override
    public MoeLayerSpec layer() {
        return layer;
    }

    @Override
    public void loadWeights(MoeWeights weights) {
        int e = layer.numExperts(), h = layer.hiddenSize(), i = layer.intermediateSize();
        expect("w13", weights.w13(), e, 2L * i, h);
        expect("w2", weights.w2(), e, h, i);
        w13 = HostTensors.toFloats(weights.w13());
        w2 = HostTensors.toFloats(weights.w2());
    }

    @Override
    public void forward(Tensor hidden, Tensor routerLogits, Tensor out, long stream) {
        if (w13 == null) throw new IllegalStateException("loadWeights() must be called before forward()");
        int h = layer.hiddenSize(), e = layer.numExperts(), inter = layer.intermediateSize();
        // the SPI's shared checks: every backend refuses bad calls with the same messages
        int m = MoeTensorChecks.checkForward(layer, hidden, routerLogits, out, Set.of(activation, DType.F32),
                Tensor.Placement.HOST);
        boolean renormalize = ((Routing.SoftmaxTopK) layer.routing()).renormalize();
        float[] x = new float[h];
        float[] act = new float[inter];
        double[] acc = new double[h];
        for (int t = 0; t < m; t++) {
            for (int c = 0; c < h; c++) x[c] = HostTensors.get(hidden, (long) t * h + c);
            float[] probs = softmax(routerLogits, t, e);
            int[] chosen = topK(probs, layer.topK());
            double sum = 0;
            for (int id : chosen) sum += probs[id];
            Arrays.fill(acc, 0);
            for (int id : chosen) {
                double weight = renormalize ? probs[id] / sum : probs[id];
                for (int r = 0; r < inter; r++) {
                    double gate = dot(w13, ((long) id * 2 * inter + r) * h, x);
                    double up = dot(w13, ((long) id * 2 * inter + inter + r) * h, x);
                    act[r] = HostTensors.roundTo(activation, (float) (gate / (1 + Math.exp(-gate)) * up));
                }
                for (int c = 0; c < h; c++) acc[c] += weight * dot(w2, ((long) id * h + c) * inter, act);
            }
            for (int c = 0; c < h; c++) HostTensors.set(out, (long) t * h + c, (float) acc[c]);
        }
    }

    @Override
    public void close() {
        w13 = null;
        w2 = null;
    }

    private static float[] softmax(Tensor logits, int t, int e) {
        float[] p = new float[e];
        float max = Float.NEGATIVE_INFINITY;
        for (int j = 0; j < e; j++) max = Math.max(max, p[j] = HostTensors.get(logits, (long) t * e + j));
        double sum = 0;
        for (int j = 0; j < e; j++) sum += p[j] = (float) Math.exp(p[j] - max);
        for (int j = 0; j < e; j++) p[j] /= (float) sum;
        return p;
    }

    /** Indices of the k largest values; ties go to the lower index. */
    private static int[] topK(float[] p, int k) {
        int[] chosen = new int[k];
        boolean[] taken = new boolean[p.length];
        for (int n = 0; n < k; n++) {
            int best = -1;
            for (int j = 0; j < p.length; j++) if (!taken[j] && (best < 0 || p[j] > p[best])) best = j;
            taken[best] = true;
            chosen[n] = best;
        }
        return chosen;
    }

    private static double dot(float[] w, long offset, float[] x) {
        double s = 0;
        for (int c = 0; c < x.length; c++) s += w[(int) offset + c] * x[c];
        return s;
    }

    private static void expect(String name, Tensor t, long... shape) {
        if (!t.isHost())
            throw new IllegalArgumentException(name + " must be in host memory for " + NaiveCpuMoeBackendProvider.NAME);
        MoeTensorChecks.requireShape(name, t, shape);
        if (t.dtype() != DType.BF16 && t.dtype() != DType.F16 && t.dtype() != DType.F32)
            throw new IllegalArgumentException(name + " must be BF16, F16 or F32, got " + t.describe());
    }
}
