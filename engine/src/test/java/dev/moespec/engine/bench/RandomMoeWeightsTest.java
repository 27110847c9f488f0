package dev.moespec.engine.bench;

import dev.moespec.api.tensor.DType;
import dev.moespec.api.tensor.HostTensors;
import dev.moespec.moe.MoeWeights;
import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class RandomMoeWeightsTest {
    private static final BenchShape SHAPE = new BenchShape("t", 3, 2, 200, 136); // not multiples of 128

    @Test
    void bf16WeightsAreSeededAndScaledByFanIn() {
        try (Arena a = Arena.ofShared()) {
            MoeWeights w = RandomMoeWeights.generate(a, SHAPE, BenchDtype.BF16, 5);
            MoeWeights again = RandomMoeWeights.generate(a, SHAPE, BenchDtype.BF16, 5);
            MoeWeights other = RandomMoeWeights.generate(a, SHAPE, BenchDtype.BF16, 6);
            float[] w13 = HostTensors.toFloats(w.w13());
            assertArrayEquals(w13, HostTensors.toFloats(again.w13()));
            assertTrue(HostTensors.get(other.w13(), 0) != w13[0]);
            assertEquals(1.0 / 200, variance(w13), 0.1 / 200); // N(0, 1/sqrt(H)) for w13
            assertEquals(1.0 / 136, variance(HostTensors.toFloats(w.w2())), 0.1 / 136);
        }
    }

    @Test
    void fp8PerTensorScalesReachTheE4m3RangePerExpert() {
        try (Arena a = Arena.ofShared()) {
            MoeWeights w = RandomMoeWeights.generate(a, SHAPE, BenchDtype.FP8, 5);
            MoeWeights bf = RandomMoeWeights.generate(a, SHAPE, BenchDtype.BF16, 5);
            assertEquals(DType.FP8_E4M3, w.w13().dtype());
            assertArrayEquals(new long[]{3}, w.w13Scale().orElseThrow().shape());
            float[] q = HostTensors.toFloats(w.w13());
            float[] ref = HostTensors.toFloats(bf.w13());
            int per = 2 * 136 * 200;
            for (int x = 0; x < 3; x++) {
                float s = HostTensors.get(w.w13Scale().orElseThrow(), x);
                float max = 0;
                double err = 0, norm = 0;
                for (int k = x * per; k < (x + 1) * per; k++) {
                    max = Math.max(max, Math.abs(q[k]));
                    err += Math.pow(q[k] * s - ref[k], 2);
                    norm += ref[k] * ref[k];
                }
                assertEquals(448f, max);
                assertTrue(Math.sqrt(err / norm) < 0.05, "expert " + x + " dequantises to the same weights: " + Math.sqrt(err / norm));
            }
        }
    }

    @Test
    void fp8BlockScalesCoverEvery128Block() {
        try (Arena a = Arena.ofShared()) {
            MoeWeights w = RandomMoeWeights.generate(a, SHAPE, BenchDtype.FP8BLOCK, 5);
            assertArrayEquals(new long[]{3, 3, 2}, w.w13Scale().orElseThrow().shape()); // ceil(272/128), ceil(200/128)
            assertArrayEquals(new long[]{3, 2, 2}, w.w2Scale().orElseThrow().shape());  // ceil(200/128), ceil(136/128)
            // the last block of w2 (rows 128..199, cols 128..135) reaches 448 too
            float max = 0;
            for (int r = 128; r < 200; r++) {
                for (int c = 128; c < 136; c++) max = Math.max(max, Math.abs(HostTensors.get(w.w2(), (2L * 200 + r) * 136 + c)));
            }
            assertEquals(448f, max);
        }
    }

    private static double variance(float[] v) {
        double s = 0;
        for (float x : v) s += (double) x * x;
        return s / v.length;
    }
}
