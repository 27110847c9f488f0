package dev.moespec.moe.conformance;

import dev.moespec.api.config.QuantScheme;
import dev.moespec.api.tensor.DType;
import dev.moespec.api.tensor.HostTensors;
import dev.moespec.api.tensor.Tensor;
import dev.moespec.moe.MoeLayerSpec;
import dev.moespec.moe.MoeTensorChecks;
import dev.moespec.moe.MoeWeights;

import java.lang.foreign.Arena;
import java.util.Random;

/**
 * Seeded inputs for one conformance run — weights in the layer's storage format, hidden states, router logits — and
 * the oracle's expected output. Tokens whose routing is near a tie, or whose FP8 activations are near a rounding
 * midpoint, are redrawn: a correct kernel may legitimately decide those either way.
 */
record ConformanceData(MoeWeights weights, Tensor hidden, Tensor routerLogits, double[] expected) {

    /** Logits are redrawn until every routing decision is at least this far from a tie (score units). */
    static final double MIN_ROUTING_MARGIN = 1e-3;

    static ConformanceData generate(Arena arena, ConformanceCase c, QuantScheme quant, int tokens) {
        MoeLayerSpec layer = c.layer(quant);
        Random random = new Random(c.seed() * 1_000_003L + quant.ordinal() * 7919L + tokens);
        MoeWeights weights = weights(arena, layer, random);
        Fp64Oracle oracle = new Fp64Oracle(layer, weights);
        int h = layer.hiddenSize(), e = layer.numExperts();
        DType act = MoeTensorChecks.activationDType(quant);
        double[] hidden = new double[tokens * h];
        double[] logits = new double[tokens * e];
        for (int t = 0; t < tokens; t++) drawToken(c, layer, act, random, t, hidden, logits);
        for (int round = 0; ; round++) {
            Fp64Oracle.Result result = oracle.forward(hidden, logits, tokens);
            if (result.ambiguousTokens().isEmpty()) {
                return new ConformanceData(weights, tensor(arena, act, hidden, tokens, h), tensor(arena, DType.F32, logits, tokens, e),
                        result.out());
            }
            if (round == 200) throw new IllegalStateException("cannot draw unambiguous FP8 activations for " + c + " " + quant);
            for (int t : result.ambiguousTokens()) drawToken(c, layer, act, random, t, hidden, logits);
        }
    }

    static MoeWeights weights(Arena arena, MoeLayerSpec layer, Random random) {
        int e = layer.numExperts(), h = layer.hiddenSize(), i = layer.intermediateSize();
        if (!layer.quant().isFp8()) {
            DType dtype = MoeTensorChecks.activationDType(layer.quant());
            return MoeWeights.unquantized(HostTensors.fromFloats(arena, dtype, gaussian(random, e * 2 * i * h, h), e, 2L * i, h),
                    HostTensors.fromFloats(arena, dtype, gaussian(random, e * h * i, i), e, h, i));
        }
        Tensor[] w13 = fp8(arena, layer.quant(), gaussian(random, e * 2 * i * h, h), e, 2 * i, h);
        Tensor[] w2 = fp8(arena, layer.quant(), gaussian(random, e * h * i, i), e, h, i);
        return MoeWeights.fp8(w13[0], w2[0], w13[1], w2[1]);
    }

    /** Quantises {@code [e, rows, cols]} like a checkpoint would: scale = amax / 448 per scale group. */
    private static Tensor[] fp8(Arena arena, QuantScheme q, float[] w, int e, int rows, int cols) {
        int rb = (rows + 127) / 128, cb = (cols + 127) / 128;
        long[] scaleShape = switch (q) {
            case FP8_PER_TENSOR -> new long[]{e};
            case FP8_PER_CHANNEL -> new long[]{e, rows};
            case FP8_BLOCK_128 -> new long[]{e, rb, cb};
            case BF16, FP16 -> throw new IllegalArgumentException(q.cliName());
        };
        int groups = (int) java.util.Arrays.stream(scaleShape).reduce(1, Math::multiplyExact);
        int[] group = new int[w.length];
        float[] amax = new float[groups];
        for (int x = 0; x < e; x++) {
            for (int r = 0; r < rows; r++) {
                for (int c = 0; c < cols; c++) {
                    int idx = (x * rows + r) * cols + c;
                    group[idx] = switch (q) {
                        case FP8_PER_TENSOR -> x;
                        case FP8_PER_CHANNEL -> x * rows + r;
                        default -> (x * rb + r / 128) * cb + c / 128;
                    };
                    amax[group[idx]] = Math.max(amax[group[idx]], Math.abs(w[idx]));
                }
            }
        }
        float[] scales = new float[groups];
        for (int g = 0; g < groups; g++) scales[g] = amax[g] == 0 ? 1f : amax[g] / 448f;
        float[] codes = new float[w.length];
        for (int idx = 0; idx < w.length; idx++) codes[idx] = w[idx] / scales[group[idx]];
        return new Tensor[]{HostTensors.fromFloats(arena, DType.FP8_E4M3, codes, e, rows, cols),
                HostTensors.fromFloats(arena, DType.F32, scales, scaleShape)};
    }

    /** Draws token {@code t}'s hidden row (as stored in {@code act}) and router logits, away from routing ties. */
    private static void drawToken(ConformanceCase c, MoeLayerSpec layer, DType act, Random random, int t,
                                  double[] hidden, double[] logits) {
        int h = layer.hiddenSize(), e = layer.numExperts();
        for (int n = 0; n < h; n++) {
            double x = random.nextGaussian();
            if (n % 37 == t % 37) x *= 8; // outliers make per-group activation scales differ
            hidden[t * h + n] = HostTensors.roundTo(act, (float) x);
        }
        for (int attempt = 0; ; attempt++) {
            double[] row = new double[e];
            for (int x = 0; x < e; x++) {
                float l = (float) (random.nextGaussian() * 1.5);
                // skewed: most experts are pushed far down so they receive no token
                if (c.skewed() && x >= Math.max(e / 8, 2 * layer.topK())) l -= 6f;
                row[x] = l;
            }
            if (Fp64Oracle.route(layer.routing(), layer.topK(), row).margin() >= MIN_ROUTING_MARGIN) {
                System.arraycopy(row, 0, logits, t * e, e);
                return;
            }
            if (attempt == 1000) throw new IllegalStateException("cannot draw untied router logits for " + c);
        }
    }

    private static Tensor tensor(Arena arena, DType dtype, double[] values, long... shape) {
        float[] f = new float[values.length];
        for (int n = 0; n < f.length; n++) f[n] = (float) values[n];
        return HostTensors.fromFloats(arena, dtype, f, shape);
    }

    private static float[] gaussian(Random random, int n, int fanIn) {
        float[] v = new float[n];
        double std = 1 / Math.sqrt(fanIn);
        for (int x = 0; x < n; x++) v[x] = (float) (random.nextGaussian() * std);
        return v;
    }
}
