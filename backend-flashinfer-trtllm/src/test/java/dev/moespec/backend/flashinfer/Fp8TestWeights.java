package dev.moespec.backend.flashinfer;

import dev.moespec.api.config.QuantScheme;
import dev.moespec.api.tensor.DType;
import dev.moespec.api.tensor.HostTensors;
import dev.moespec.api.tensor.Tensor;
import dev.moespec.moe.MoeLayerSpec;
import dev.moespec.moe.MoeWeights;

import java.lang.foreign.Arena;
import java.lang.foreign.ValueLayout;
import java.util.SplittableRandom;

/** Random FP8 expert weights for the GPU tests and the tuning main. */
final class Fp8TestWeights {
    private Fp8TestWeights() {}

    /**
     * Checkpoint-like weights: gaussian rows (std 1/sqrt(fan-in)) quantised to e4m3 with scale = amax/448 per scale
     * group. Exact but slow (one Java loop per element): for test-sized layers.
     */
    static MoeWeights quantised(Arena arena, MoeLayerSpec layer, long seed) {
        SplittableRandom random = new SplittableRandom(seed);
        int e = layer.numExperts(), h = layer.hiddenSize(), i = layer.intermediateSize();
        Tensor[] w13 = quantise(arena, layer.quant(), gaussian(random, e * 2 * i * h, h), e, 2 * i, h);
        Tensor[] w2 = quantise(arena, layer.quant(), gaussian(random, e * h * i, i), e, h, i);
        return MoeWeights.fp8(w13[0], w2[0], w13[1], w2[1]);
    }

    /**
     * Fast random weights for timing: e4m3 codes with magnitudes below 2 (never NaN, never all zeros) and scales
     * of 1/(64 sqrt(fan-in)), so outputs stay finite and O(1).
     */
    static MoeWeights random(Arena arena, MoeLayerSpec layer, long seed) {
        SplittableRandom random = new SplittableRandom(seed);
        int e = layer.numExperts(), h = layer.hiddenSize(), i = layer.intermediateSize();
        Tensor w13 = randomCodes(arena, random, (long) e * 2 * i * h, e, 2L * i, h);
        Tensor w2 = randomCodes(arena, random, (long) e * h * i, e, h, i);
        return MoeWeights.fp8(w13, w2, constantScales(arena, layer.quant(), e, 2 * i, h, 1f / (64 * (float) Math.sqrt(h))),
                constantScales(arena, layer.quant(), e, h, i, 1f / (64 * (float) Math.sqrt(i))));
    }

    private static Tensor randomCodes(Arena arena, SplittableRandom random, long n, long... shape) {
        Tensor t = HostTensors.allocate(arena, DType.FP8_E4M3, shape);
        long words = n / 8;
        for (long w = 0; w < words; w++) {
            // clearing bit 6 of every byte keeps the exponent below 8: |x| < 2, no NaN (0x7f / 0xff)
            t.data().setAtIndex(ValueLayout.JAVA_LONG_UNALIGNED, w, random.nextLong() & 0xBFBFBFBFBFBFBFBFL);
        }
        for (long b = words * 8; b < n; b++) t.data().set(ValueLayout.JAVA_BYTE, b, (byte) 0x30);
        return t;
    }

    private static Tensor constantScales(Arena arena, QuantScheme q, int e, int rows, int cols, float value) {
        long[] shape = DeviceExpertWeights.scaleShape(q, e, rows, cols);
        Tensor t = HostTensors.allocate(arena, DType.F32, shape);
        for (long n = 0; n < t.elementCount(); n++) HostTensors.set(t, n, value * (1 + 0.25f * (n % 3)));
        return t;
    }

    private static float[] gaussian(SplittableRandom random, int n, int fanIn) {
        float[] v = new float[n];
        double std = 1 / Math.sqrt(fanIn);
        for (int x = 0; x < n; x++) v[x] = (float) (gauss(random) * std);
        return v;
    }

    static double gauss(SplittableRandom random) {
        double u = random.nextDouble(), v = random.nextDouble();
        return Math.sqrt(-2 * Math.log(1 - u)) * Math.cos(2 * Math.PI * v);
    }

    private static Tensor[] quantise(Arena arena, QuantScheme q, float[] w, int e, int rows, int cols) {
        int rb = (rows + 127) / 128, cb = (cols + 127) / 128;
        int groups = q == QuantScheme.FP8_BLOCK_128 ? e * rb * cb : e;
        float[] amax = new float[groups];
        for (int x = 0; x < e; x++)
            for (int r = 0; r < rows; r++)
                for (int c = 0; c < cols; c++) {
                    int g = group(q, x, r, c, rb, cb);
                    amax[g] = Math.max(amax[g], Math.abs(w[(x * rows + r) * cols + c]));
                }
        float[] scales = new float[groups];
        for (int g = 0; g < groups; g++) scales[g] = amax[g] == 0 ? 1f : amax[g] / 448f;
        float[] codes = new float[w.length];
        for (int x = 0; x < e; x++)
            for (int r = 0; r < rows; r++)
                for (int c = 0; c < cols; c++) {
                    int idx = (x * rows + r) * cols + c;
                    codes[idx] = w[idx] / scales[group(q, x, r, c, rb, cb)];
                }
        return new Tensor[]{HostTensors.fromFloats(arena, DType.FP8_E4M3, codes, e, rows, cols),
                HostTensors.fromFloats(arena, DType.F32, scales, DeviceExpertWeights.scaleShape(q, e, rows, cols))};
    }

    private static int group(QuantScheme q, int x, int r, int c, int rb, int cb) {
        return q == QuantScheme.FP8_BLOCK_128 ? (x * rb + r / 128) * cb + c / 128 : x;
    }
}
