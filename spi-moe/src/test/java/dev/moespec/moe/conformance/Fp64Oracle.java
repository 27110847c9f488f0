package dev.moespec.moe.conformance;

import dev.moespec.api.config.QuantScheme;
import dev.moespec.api.tensor.HostTensors;
import dev.moespec.api.tensor.Tensor;
import dev.moespec.moe.MoeLayerSpec;
import dev.moespec.moe.MoeWeights;
import dev.moespec.moe.Routing;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;

/**
 * The conformance kit's own oracle, written independently of the CPU reference kernel: fp64, per-token loops,
 * sorting for top-k, a table search for e4m3 rounding. It rounds activations at the same two points as the GPU paths
 * (before GEMM 1 and before GEMM 2) so that the comparison measures kernel error, not quantisation error.
 */
final class Fp64Oracle {

    /** Non-negative finite e4m3fn values; the index is the code (0x00..0x7E). */
    private static final double[] E4M3 = new double[127];

    static {
        for (int code = 0; code < E4M3.length; code++) {
            int exponent = code >> 3, mantissa = code & 7;
            E4M3[code] = exponent == 0 ? mantissa / 512.0 : (1 + mantissa / 8.0) * Math.pow(2, exponent - 7);
        }
    }

    /** Top-k ids, weights and how far the decision was from a tie (in score units). */
    record Route(int[] ids, double[] weights, double margin) {}

    /** Inputs within this relative distance of an e4m3 rounding midpoint may round either way in a correct kernel. */
    static final double FP8_AMBIGUITY = 2e-5;

    /**
     * The oracle's output, and the tokens whose FP8 activations (hidden or intermediate) lie so close to a rounding
     * midpoint that fp32 noise in a correct kernel could round them the other way; a single such flip near the top
     * of a per-tensor range moves a token's output by several percent. The kit redraws those tokens.
     */
    record Result(double[] out, java.util.SortedSet<Integer> ambiguousTokens) {}

    private final MoeLayerSpec layer;
    private final double[] w13;
    private final double[] w2;

    Fp64Oracle(MoeLayerSpec layer, MoeWeights weights) {
        this.layer = layer;
        int e = layer.numExperts(), h = layer.hiddenSize(), i = layer.intermediateSize();
        this.w13 = dequantize(weights.w13(), weights.w13Scale().orElse(null), layer.quant(), e, 2 * i, h);
        this.w2 = dequantize(weights.w2(), weights.w2Scale().orElse(null), layer.quant(), e, h, i);
    }

    /** {@code hidden[m, H]} as stored (already in the activation dtype), {@code logits[m, E]}. */
    Result forward(double[] hidden, double[] lg, int m) {
        int e = layer.numExperts(), k = layer.topK(), h = layer.hiddenSize(), i = layer.intermediateSize();
        QuantScheme q = layer.quant();
        double[] x = hidden.clone();
        java.util.SortedSet<Integer> ambiguous = new java.util.TreeSet<>();
        boolean[] rows = roundActivations(q, x, m, h);
        for (int t = 0; t < m; t++) if (rows[t]) ambiguous.add(t);

        int[] ids = new int[m * k];
        double[] rw = new double[m * k];
        double[] inter = new double[m * k * i];
        for (int t = 0; t < m; t++) {
            Route route = route(layer.routing(), k, Arrays.copyOfRange(lg, t * e, (t + 1) * e));
            for (int j = 0; j < k; j++) {
                int expert = route.ids()[j];
                ids[t * k + j] = expert;
                rw[t * k + j] = route.weights()[j];
                for (int n = 0; n < i; n++) {
                    double gate = 0, up = 0;
                    for (int c = 0; c < h; c++) {
                        gate += w13[(expert * 2 * i + n) * h + c] * x[t * h + c];
                        up += w13[(expert * 2 * i + i + n) * h + c] * x[t * h + c];
                    }
                    inter[(t * k + j) * i + n] = gate / (1 + Math.exp(-gate)) * up;
                }
            }
        }
        rows = roundActivations(q, inter, m * k, i);
        for (int r = 0; r < rows.length; r++) if (rows[r]) ambiguous.add(r / k);
        double[] out = new double[m * h];
        for (int t = 0; t < m; t++) {
            for (int j = 0; j < k; j++) {
                int expert = ids[t * k + j];
                for (int c = 0; c < h; c++) {
                    double acc = 0;
                    for (int n = 0; n < i; n++) acc += w2[(expert * h + c) * i + n] * inter[(t * k + j) * i + n];
                    out[t * h + c] += rw[t * k + j] * acc;
                }
            }
        }
        return new Result(out, ambiguous);
    }

    static Route route(Routing routing, int k, double[] logits) {
        return switch (routing) {
            case Routing.SoftmaxTopK s -> {
                double max = Arrays.stream(logits).max().orElseThrow();
                double[] p = Arrays.stream(logits).map(l -> Math.exp(l - max)).toArray();
                double sum = Arrays.stream(p).sum();
                List<Integer> order = descending(logits, allIndices(logits.length));
                double margin = k < order.size() ? logits[order.get(k - 1)] - logits[order.get(k)] : Double.POSITIVE_INFINITY;
                int[] ids = order.subList(0, k).stream().mapToInt(Integer::intValue).toArray();
                double[] w = Arrays.stream(ids).mapToDouble(id -> p[id] / sum).toArray();
                if (s.renormalize()) normalize(w);
                yield new Route(ids, w, margin);
            }
            case Routing.SigmoidGroupedTopK g -> {
                int n = logits.length, size = n / g.numGroups();
                float[] bias = g.correctionBias();
                double[] score = new double[n], biased = new double[n];
                for (int x = 0; x < n; x++) {
                    score[x] = 1 / (1 + Math.exp(-logits[x]));
                    biased[x] = score[x] + bias[x];
                }
                double[] groupScore = new double[g.numGroups()];
                for (int grp = 0; grp < g.numGroups(); grp++) {
                    double[] members = Arrays.copyOfRange(biased, grp * size, (grp + 1) * size);
                    Arrays.sort(members);
                    groupScore[grp] = members[members.length - 1] + (size >= 2 ? members[members.length - 2] : 0);
                }
                List<Integer> groups = descending(groupScore, allIndices(g.numGroups()));
                double margin = g.topKGroups() < groups.size()
                        ? groupScore[groups.get(g.topKGroups() - 1)] - groupScore[groups.get(g.topKGroups())] : Double.POSITIVE_INFINITY;
                List<Integer> candidates = new ArrayList<>();
                for (int grp : groups.subList(0, g.topKGroups())) {
                    for (int x = grp * size; x < (grp + 1) * size; x++) candidates.add(x);
                }
                List<Integer> order = descending(biased, candidates);
                if (k < order.size()) margin = Math.min(margin, biased[order.get(k - 1)] - biased[order.get(k)]);
                int[] ids = order.subList(0, k).stream().mapToInt(Integer::intValue).toArray();
                double[] w = Arrays.stream(ids).mapToDouble(id -> score[id]).toArray();
                if (g.renormalize()) normalize(w);
                for (int j = 0; j < w.length; j++) w[j] *= g.routedScalingFactor();
                yield new Route(ids, w, margin);
            }
        };
    }

    /** Rounds {@code data[rows, cols]} as the activation path of {@code q} does; returns the rows with an ambiguous FP8 rounding. */
    static boolean[] roundActivations(QuantScheme q, double[] data, int rows, int cols) {
        boolean[] ambiguous = new boolean[rows];
        switch (q) {
            case BF16 -> { for (int x = 0; x < data.length; x++) data[x] = roundMantissa(data[x], 7, -126); }
            case FP16 -> { for (int x = 0; x < data.length; x++) data[x] = roundMantissa(data[x], 10, -14); }
            case FP8_PER_TENSOR -> fp8Group(data, 0, rows * cols, cols, ambiguous);
            case FP8_PER_CHANNEL -> { for (int r = 0; r < rows; r++) fp8Group(data, r * cols, (r + 1) * cols, cols, ambiguous); }
            case FP8_BLOCK_128 -> {
                for (int r = 0; r < rows; r++) {
                    for (int c = 0; c < cols; c += 128) fp8Group(data, r * cols + c, r * cols + Math.min(cols, c + 128), cols, ambiguous);
                }
            }
        }
        return ambiguous;
    }

    /** Round to nearest even keeping {@code bits} mantissa bits; below {@code minExponent} the spacing stays fixed. */
    static double roundMantissa(double x, int bits, int minExponent) {
        if (x == 0 || !Double.isFinite(x)) return x;
        int exponent = Math.max(Math.getExponent(x), minExponent);
        return Math.scalb(Math.rint(Math.scalb(x, bits - exponent)), exponent - bits);
    }

    /** Nearest e4m3fn value, ties to the even code, saturating at ±448. */
    static double toE4m3(double x) {
        double a = Math.min(Math.abs(x), 448.0);
        int idx = Arrays.binarySearch(E4M3, a);
        int code;
        if (idx >= 0) {
            code = idx;
        } else {
            int hi = -idx - 1, lo = hi - 1;
            double dLo = a - E4M3[lo], dHi = E4M3[hi] - a;
            code = dLo < dHi ? lo : dHi < dLo ? hi : (lo % 2 == 0 ? lo : hi);
        }
        return Math.copySign(E4M3[code], x);
    }

    private static void fp8Group(double[] data, int from, int to, int cols, boolean[] ambiguousRows) {
        double amax = 0;
        for (int x = from; x < to; x++) amax = Math.max(amax, Math.abs(data[x]));
        double scale = amax == 0 ? 1 : amax / 448.0;
        for (int x = from; x < to; x++) {
            double scaled = data[x] / scale;
            if (nearMidpoint(Math.abs(scaled))) ambiguousRows[x / cols] = true;
            data[x] = toE4m3(scaled) * scale;
        }
    }

    /** Whether {@code a} (0..448) lies within {@link #FP8_AMBIGUITY} (relative) of a midpoint between two e4m3 values. */
    private static boolean nearMidpoint(double a) {
        int idx = Arrays.binarySearch(E4M3, Math.min(a, 448.0));
        if (idx >= 0) return false;
        int hi = -idx - 1;
        if (hi >= E4M3.length) return false;
        double midpoint = (E4M3[hi - 1] + E4M3[hi]) / 2;
        return Math.abs(a - midpoint) <= FP8_AMBIGUITY * a;
    }

    private static double[] dequantize(Tensor w, Tensor scales, QuantScheme q, int e, int rows, int cols) {
        double[] out = doubles(w);
        if (scales == null) return out;
        double[] s = doubles(scales);
        int rowBlocks = (rows + 127) / 128, colBlocks = (cols + 127) / 128;
        for (int x = 0; x < e; x++) {
            for (int r = 0; r < rows; r++) {
                for (int c = 0; c < cols; c++) {
                    double scale = switch (q) {
                        case FP8_PER_TENSOR -> s[x];
                        case FP8_PER_CHANNEL -> s[x * rows + r];
                        case FP8_BLOCK_128 -> s[x * rowBlocks * colBlocks + (r / 128) * colBlocks + c / 128];
                        case BF16, FP16 -> 1;
                    };
                    out[(x * rows + r) * cols + c] *= scale;
                }
            }
        }
        return out;
    }

    static double[] doubles(Tensor t) {
        float[] f = HostTensors.toFloats(t);
        double[] d = new double[f.length];
        for (int x = 0; x < f.length; x++) d[x] = f[x];
        return d;
    }

    private static List<Integer> allIndices(int n) {
        List<Integer> all = new ArrayList<>();
        for (int x = 0; x < n; x++) all.add(x);
        return all;
    }

    /** Stable sort: equal values keep ascending index order. */
    private static List<Integer> descending(double[] values, List<Integer> indices) {
        List<Integer> sorted = new ArrayList<>(indices);
        sorted.sort(Comparator.comparingDouble((Integer x) -> values[x]).reversed());
        return sorted;
    }

    private static void normalize(double[] w) {
        double sum = Arrays.stream(w).sum();
        for (int j = 0; j < w.length; j++) w[j] /= sum;
    }
}
