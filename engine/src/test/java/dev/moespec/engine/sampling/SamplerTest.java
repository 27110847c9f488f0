package dev.moespec.engine.sampling;

import org.junit.jupiter.api.Test;

import java.util.OptionalLong;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class SamplerTest {
    // softmax of ln([4, 3, 2, 1]) = [0.4, 0.3, 0.2, 0.1]
    private static final float[] LOGITS = {(float) Math.log(3), (float) Math.log(4), (float) Math.log(1), (float) Math.log(2)};

    private static SamplingParams params(double t, int k, double p, long seed) {
        return new SamplingParams(t, k, p, OptionalLong.of(seed), 16, false);
    }

    @Test
    void temperatureZeroIsGreedy() {
        Sampler s = new Sampler(params(0, 0, 1, 1));
        for (int i = 0; i < 20; i++) assertEquals(1, s.sample(LOGITS));
        assertArrayEquals(new double[]{0, 1, 0, 0}, Sampler.probabilities(LOGITS, params(0, 2, 0.5, 1)));
    }

    @Test
    void topKMaskIsExact() {
        double[] p = Sampler.probabilities(LOGITS, params(1, 2, 1, 1));
        assertArrayEquals(new double[]{3.0 / 7, 4.0 / 7, 0, 0}, p, 1e-6);
    }

    @Test
    void topPKeepsTheSmallestSetReachingP() {
        // sorted: 0.4 (id 1), 0.3 (id 0), 0.2 (id 3), 0.1 (id 2); p = 0.65 needs ids 1 and 0
        assertArrayEquals(new double[]{3.0 / 7, 4.0 / 7, 0, 0}, Sampler.probabilities(LOGITS, params(1, 0, 0.65, 1)), 1e-6);
        // p = 0.75 crosses at id 3
        assertArrayEquals(new double[]{1.0 / 3, 4.0 / 9, 0, 2.0 / 9}, Sampler.probabilities(LOGITS, params(1, 0, 0.75, 1)), 1e-6);
        // top-k 3 then top-p 0.8 of the renormalised (4/9, 3/9, 2/9): 4/9+3/9 = 0.78 < 0.8, so all three stay
        assertArrayEquals(new double[]{1.0 / 3, 4.0 / 9, 0, 2.0 / 9}, Sampler.probabilities(LOGITS, params(1, 3, 0.8, 1)), 1e-6);
    }

    @Test
    void temperatureSharpens() {
        double[] p = Sampler.probabilities(LOGITS, params(0.5, 0, 1, 1));
        // p ∝ [9, 16, 1, 4] / 30
        assertArrayEquals(new double[]{9 / 30.0, 16 / 30.0, 1 / 30.0, 4 / 30.0}, p, 1e-6);
    }

    @Test
    void seededSamplingIsReproducibleAndFollowsTheDistribution() {
        int[] a = new int[2000], b = new int[2000], counts = new int[4];
        Sampler x = new Sampler(params(1, 0, 1, 42)), y = new Sampler(params(1, 0, 1, 42));
        for (int i = 0; i < a.length; i++) {
            a[i] = x.sample(LOGITS);
            b[i] = y.sample(LOGITS);
            counts[a[i]]++;
        }
        assertArrayEquals(a, b);
        int[] other = new int[2000];
        Sampler z = new Sampler(params(1, 0, 1, 43));
        for (int i = 0; i < other.length; i++) other[i] = z.sample(LOGITS);
        assertNotEquals(java.util.Arrays.toString(a), java.util.Arrays.toString(other));
        // 2000 draws: each count within 5 standard deviations of its expectation
        double[] expected = {0.3, 0.4, 0.1, 0.2};
        for (int i = 0; i < 4; i++) {
            double mean = 2000 * expected[i], sd = Math.sqrt(2000 * expected[i] * (1 - expected[i]));
            assertTrue(Math.abs(counts[i] - mean) < 5 * sd, "token " + i + ": " + counts[i]);
        }
        Sampler masked = new Sampler(params(1, 2, 1, 7));
        for (int i = 0; i < 500; i++) assertTrue(masked.sample(LOGITS) <= 1, "top-k 2 never samples ids 2 or 3");
    }

    @Test
    void badParametersNameTheField() {
        assertTrue(assertThrows(IllegalArgumentException.class, () -> params(-1, 0, 1, 1)).getMessage().contains("temperature"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> params(1, -2, 1, 1)).getMessage().contains("top_k"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> params(1, 0, 0, 1)).getMessage().contains("top_p"));
        assertTrue(assertThrows(IllegalArgumentException.class,
                () -> new SamplingParams(1, 0, 1, OptionalLong.empty(), 0, false)).getMessage().contains("max_tokens"));
    }
}
