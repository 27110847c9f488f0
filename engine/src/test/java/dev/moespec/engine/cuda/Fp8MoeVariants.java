package dev.moespec.engine.cuda;

import dev.moespec.api.tensor.DType;
import dev.moespec.api.tensor.HostTensors;
import dev.moespec.moe.MoeLayerSpec;
import dev.moespec.moe.MoeWeights;
import dev.moespec.moe.Routing;

import java.util.stream.IntStream;

/**
 * Variants of the FP8_BLOCK_128 (W8A8, 1×128 dynamic activation groups) MoE math, one rounding choice changed at a
 * time, to tell which one a GPU kernel implements: the variant a kernel's output sits closest to names its input
 * rounding, activation quantisation (scale, rounding mode), intermediate re-quantisation and output rounding.
 * Softmax top-k routing only (the demo target's); fp32 math on the dequantised weights otherwise.
 */
final class Fp8MoeVariants {

    /** How an activation tensor is rounded before a GEMM. */
    enum Quant {
        /** kept in fp32 */
        NONE,
        /** rounded to BF16 */
        BF16,
        /** e4m3 per row per 128 columns, scale = amax / 448 in fp32, round to nearest even (the documented recipe) */
        E4M3,
        /** as E4M3 but the scale rounded up to a power of two (UE8M0 scales, as DeepGEMM's Blackwell recipe) */
        E4M3_POW2_SCALE,
        /** as E4M3 but rounded toward zero */
        E4M3_TRUNCATE
    }

    /**
     * @param inputBf16 the MoE input is BF16 (the backends' contract) rather than fp32
     * @param input     GEMM 1's activation rounding
     * @param inter     GEMM 2's activation (SwiGLU output) rounding
     * @param outBf16   the output is rounded to BF16
     */
    record Variant(String name, boolean inputBf16, Quant input, Quant inter, boolean outBf16) {}

    /** The GPU contract as documented: BF16 in, e4m3 before both GEMMs, BF16 out. */
    static final Variant CONTRACT = new Variant("contract: bf16 in, e4m3 x2, bf16 out", true, Quant.E4M3, Quant.E4M3, true);
    static final Variant[] ALL = {
            CONTRACT,
            new Variant("fp32 in (no bf16 step), fp32 out", false, Quant.E4M3, Quant.E4M3, false),
            new Variant("contract, fp32 out", true, Quant.E4M3, Quant.E4M3, false),
            new Variant("intermediate not re-quantised (fp32)", true, Quant.E4M3, Quant.NONE, true),
            new Variant("intermediate bf16, not e4m3", true, Quant.E4M3, Quant.BF16, true),
            new Variant("power-of-two scales", true, Quant.E4M3_POW2_SCALE, Quant.E4M3_POW2_SCALE, true),
            new Variant("round toward zero", true, Quant.E4M3_TRUNCATE, Quant.E4M3_TRUNCATE, true),
            new Variant("W8A16: no activation quantisation", true, Quant.BF16, Quant.BF16, true),
    };

    private final MoeLayerSpec spec;
    private final float[] w13, w2; // dequantised, [E, 2I, H] and [E, H, I]

    Fp8MoeVariants(MoeLayerSpec spec, MoeWeights weights) {
        if (!(spec.routing() instanceof Routing.SoftmaxTopK)) {
            throw new IllegalArgumentException("only softmax top-k routing is emulated here, got " + spec.routing());
        }
        this.spec = spec;
        int e = spec.numExperts(), h = spec.hiddenSize(), i = spec.intermediateSize();
        w13 = dequantise(HostTensors.toFloats(weights.w13()), HostTensors.toFloats(weights.w13Scale().orElseThrow()), e, 2 * i, h);
        w2 = dequantise(HostTensors.toFloats(weights.w2()), HostTensors.toFloats(weights.w2Scale().orElseThrow()), e, h, i);
    }

    private static float[] dequantise(float[] q, float[] s, int e, int rows, int cols) {
        int rb = (rows + 127) / 128, cb = (cols + 127) / 128;
        for (int x = 0; x < e; x++) {
            for (int r = 0; r < rows; r++) {
                for (int c = 0; c < cols; c++) q[(x * rows + r) * cols + c] *= s[(x * rb + r / 128) * cb + c / 128];
            }
        }
        return q;
    }

    /** {@code out[m, H]} of {@code variant} for {@code hidden[m, H]} and {@code logits[m, E]}. */
    float[] forward(Variant variant, float[] hidden, float[] logits, int m) {
        int e = spec.numExperts(), k = spec.topK(), h = spec.hiddenSize(), i = spec.intermediateSize();
        boolean renormalise = ((Routing.SoftmaxTopK) spec.routing()).renormalize();
        float[] out = new float[m * h];
        IntStream.range(0, m).parallel().forEach(t -> {
            float[] x = new float[h];
            for (int c = 0; c < h; c++) x[c] = variant.inputBf16 ? HostTensors.roundTo(DType.BF16, hidden[t * h + c]) : hidden[t * h + c];
            round(variant.input, x);
            // softmax over all experts, top-k (lower index on ties), renormalised
            float max = Float.NEGATIVE_INFINITY;
            for (int x2 = 0; x2 < e; x2++) max = Math.max(max, logits[t * e + x2]);
            float[] p = new float[e];
            float sum = 0f;
            for (int x2 = 0; x2 < e; x2++) sum += p[x2] = (float) Math.exp(logits[t * e + x2] - max);
            for (int x2 = 0; x2 < e; x2++) p[x2] /= sum;
            boolean[] taken = new boolean[e];
            int[] ids = new int[k];
            float total = 0f;
            for (int j = 0; j < k; j++) {
                int best = -1;
                for (int x2 = 0; x2 < e; x2++) if (!taken[x2] && (best < 0 || p[x2] > p[best])) best = x2;
                taken[best] = true;
                ids[j] = best;
                total += p[best];
            }
            float[] acc = new float[h];
            float[] inter = new float[i];
            for (int j = 0; j < k; j++) {
                int ex = ids[j];
                float w = renormalise ? p[ex] / total : p[ex];
                for (int n = 0; n < i; n++) {
                    float gate = dot(w13, (ex * 2 * i + n) * h, x, h), up = dot(w13, (ex * 2 * i + i + n) * h, x, h);
                    inter[n] = (float) (gate / (1.0 + Math.exp(-gate))) * up;
                }
                round(variant.inter, inter);
                for (int c = 0; c < h; c++) acc[c] += w * dot(w2, (ex * h + c) * i, inter, i);
            }
            for (int c = 0; c < h; c++) out[t * h + c] = variant.outBf16 ? HostTensors.roundTo(DType.BF16, acc[c]) : acc[c];
        });
        return out;
    }

    private static float dot(float[] w, int off, float[] x, int n) {
        float acc = 0f;
        for (int q = 0; q < n; q++) acc += w[off + q] * x[q];
        return acc;
    }

    private static void round(Quant quant, float[] x) {
        switch (quant) {
            case NONE -> {}
            case BF16 -> {
                for (int c = 0; c < x.length; c++) x[c] = HostTensors.roundTo(DType.BF16, x[c]);
            }
            case E4M3, E4M3_POW2_SCALE, E4M3_TRUNCATE -> {
                for (int from = 0; from < x.length; from += 128) {
                    int to = Math.min(x.length, from + 128);
                    float amax = 0f;
                    for (int c = from; c < to; c++) amax = Math.max(amax, Math.abs(x[c]));
                    float scale = amax == 0f ? 1f : amax / HostTensors.E4M3_MAX;
                    if (quant == Quant.E4M3_POW2_SCALE && amax != 0f) scale = (float) Math.pow(2, Math.ceil(Math.log(scale) / Math.log(2)));
                    for (int c = from; c < to; c++) {
                        float v = x[c] / scale;
                        float r = HostTensors.roundTo(DType.FP8_E4M3, v);
                        if (quant == Quant.E4M3_TRUNCATE && Math.abs(r) > Math.abs(v)) r = towardZero(r);
                        x[c] = r * scale;
                    }
                }
            }
        }
    }

    /** The e4m3 value next to {@code r} toward zero. */
    private static float towardZero(float r) {
        byte bits = HostTensors.floatToE4m3(r);
        return HostTensors.e4m3ToFloat((byte) (bits - 1)); // codes of one sign are monotonic in magnitude
    }

    /** Relative Frobenius error {@code ‖a − b‖ / ‖b‖}. */
    static double relError(float[] a, float[] b) {
        double num = 0, den = 0;
        for (int n = 0; n < a.length; n++) {
            num += (double) (a[n] - b[n]) * (a[n] - b[n]);
            den += (double) b[n] * b[n];
        }
        return Math.sqrt(num / Math.max(den, 1e-300));
    }

    static double maxAbs(float[] a, float[] b) {
        double m = 0;
        for (int n = 0; n < a.length; n++) m = Math.max(m, Math.abs(a[n] - b[n]));
        return m;
    }
}
