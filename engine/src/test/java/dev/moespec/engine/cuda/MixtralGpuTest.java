package dev.moespec.engine.cuda;

import dev.moespec.api.config.QuantScheme;
import dev.moespec.engine.model.SequenceChunk;
import dev.moespec.engine.model.SyntheticMixtral;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.IOException;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Mixtral on the GPU: the synthetic checkpoint of {@link SyntheticMixtral} (Mixtral naming, no q/k norms, top-2 of 4
 * experts renormalised, BF16) through {@link CudaMoeModel} with triton. Prefill logits against the CPU twin with the
 * runner's BF16 rounding (tight), against the CPU path and the independent fp64 forward (within what that rounding
 * was measured to cost); greedy decode with the KV cache, CUDA graphs on and off, against full recompute.
 */
@Tag("gpu")
class MixtralGpuTest {
    /**
     * Median over positions of max |logit diff| between the GPU and a computation with the same rounding points (its
     * CPU twin, or itself through another kernel path): the demo target's BF16 bound. This model's own spread under
     * ulp-level perturbations is 0 ({@link CudaPathReferenceTest}: the final BF16 rounding of the normed rows absorbs
     * them), so the bound measured on the larger model is the one that applies.
     */
    static final double SAME_ROUNDING_MEDIAN_BOUND = CudaMoeModelGpuTest.TWIN_MEDIAN_BOUND_BF16;
    static final int[] PROMPT = {3, 17, 42, 8, 8, 29, 1, 49, 0, 12};

    @TempDir
    static Path dir;
    static Map<String, double[]> weights;

    @BeforeAll
    static void writeCheckpoint() throws IOException {
        weights = SyntheticMixtral.write(dir);
    }

    @BeforeEach
    void gpu() {
        GpuModels.assumeGpuRunner();
    }

    private static float[][] gpuLogits(int[] tokens) {
        try (GpuModels.Runner r = GpuModels.open(dir, "triton", QuantScheme.BF16)) {
            return GpuModels.teacherForced(r.model(), tokens);
        }
    }

    private static float[][] twinLogits(int[] tokens) {
        try (CudaPathReference c = new CudaPathReference(dir, QuantScheme.BF16, CudaPathReference.Rounding.CUDA_RUNNER)) {
            return c.logits(tokens);
        }
    }

    private static double maxAbs(float[][] a, double[][] b) {
        double worst = 0;
        for (int t = 0; t < a.length; t++) for (int v = 0; v < a[t].length; v++) worst = Math.max(worst, Math.abs(a[t][v] - b[t][v]));
        return worst;
    }

    private static float[][] toFloat(double[][] a) {
        float[][] out = new float[a.length][];
        for (int t = 0; t < a.length; t++) {
            out[t] = new float[a[t].length];
            for (int v = 0; v < a[t].length; v++) out[t][v] = (float) a[t][v];
        }
        return out;
    }

    /**
     * Greedy tokens at every position must be the fp64 forward's wherever its margin exceeds 2(δ + ε): δ = the BF16
     * twin's distance from fp64, ε = the GPU's from the twin, both measured on {@code tokens}.
     *
     * @return how many positions that covered
     */
    private static int assertArgmaxWhereTheDeviationAllows(String what, int[] tokens, float[][] gpu) {
        float[][] twin = twinLogits(tokens), fp64 = toFloat(new SyntheticMixtral.Fp64Forward(weights).forward(tokens));
        double eps = GpuModels.maxAbsDiff(gpu, twin), delta = GpuModels.maxAbsDiff(twin, fp64);
        double median = GpuModels.median(GpuModels.perRowMaxDiff(gpu, twin));
        assertTrue(median <= SAME_ROUNDING_MEDIAN_BOUND, what + ": median over positions of max |gpu - BF16 twin| = " + median);
        int covered = 0;
        for (int t = 0; t < tokens.length; t++) {
            if (GpuModels.margin(fp64[t]) <= 2 * (delta + eps)) continue;
            covered++;
            assertEquals(GpuModels.argmax(fp64[t]), GpuModels.argmax(gpu[t]), what + ": greedy token at position " + t);
        }
        System.out.printf("[mixtral gpu] %s: eps = max|gpu - twin| %.2e (median over positions %.2e), delta = max|twin - fp64| %.2e,"
                + " argmax = fp64's at %d/%d positions (margin > 2(delta + eps) = %.3f)%n", what, eps, median, delta, covered, tokens.length,
                2 * (delta + eps));
        return covered;
    }

    @Test
    void prefillLogitsMatchTheCpuPathsAndTheFp64Forward() {
        float[][] gpu = gpuLogits(PROMPT);
        double[][] fp64 = new SyntheticMixtral.Fp64Forward(weights).forward(PROMPT);
        float[][] cpu;
        try (var c = GpuModels.exact(dir)) {
            cpu = GpuModels.teacherForced(c, PROMPT);
        }
        double cpuVsFp64 = maxAbs(cpu, fp64), gpuVsFp64 = maxAbs(gpu, fp64), gpuVsCpu = GpuModels.maxAbsDiff(gpu, cpu);
        System.out.printf("[mixtral gpu] prefill: max |gpu - fp64| %.2e, |gpu - cpu| %.2e, |cpu - fp64| %.2e%n", gpuVsFp64, gpuVsCpu, cpuVsFp64);
        assertTrue(cpuVsFp64 <= 1e-4, "CPU path vs fp64: " + cpuVsFp64); // MixtralCpuTest's bound
        int covered = assertArgmaxWhereTheDeviationAllows("prefill", PROMPT, gpu);
        assertTrue(covered > 0, "no position had a margin wide enough to compare");
    }

    @ParameterizedTest(name = "graphs {0}")
    @ValueSource(booleans = {true, false})
    void greedyDecodeWithTheKvCacheEqualsFullRecompute(boolean graphs) {
        int[] prompt = {5, 33, 2, 19};
        int steps = 12;
        int[] seq = Arrays.copyOf(prompt, prompt.length + steps);
        float[][] decoded = new float[steps][], recomputed = new float[steps][];
        try (GpuModels.Runner r = GpuModels.open(dir, "triton", QuantScheme.BF16)) {
            CudaMoeModel m = r.model();
            m.useGraphs(graphs);
            int s = m.open(prompt.length + steps);
            float[] logits = m.step(List.of(SequenceChunk.last(s, prompt))).lastLogits(0);
            for (int t = 0; t < steps; t++) {
                decoded[t] = logits;
                seq[prompt.length + t] = GpuModels.argmax(logits);
                int fresh = m.open(prompt.length + t);
                float[] full = m.step(List.of(SequenceChunk.last(fresh, Arrays.copyOf(seq, prompt.length + t)))).lastLogits(0);
                m.release(fresh);
                recomputed[t] = full;
                logits = m.step(List.of(SequenceChunk.last(s, seq[prompt.length + t]))).lastLogits(0);
            }
            assertTrue(m.graphFailure().isEmpty(), () -> "graph capture failed: " + m.graphFailure().get());
            assertEquals(graphs, m.graphsOn());
        }
        double worst = GpuModels.maxAbsDiff(decoded, recomputed), median = GpuModels.median(GpuModels.perRowMaxDiff(decoded, recomputed));
        System.out.printf("[mixtral gpu] graphs=%s: %d decode steps, |cached - recomputed logit| max %.2e, median over steps %.2e, tokens %s%n",
                graphs, steps, worst, median, Arrays.toString(Arrays.copyOfRange(seq, prompt.length, seq.length)));
        assertTrue(median <= SAME_ROUNDING_MEDIAN_BOUND, "KV-cache decode vs full recompute: median max |logit diff| " + median);
        for (int t = 0; t < steps; t++) {
            if (GpuModels.margin(recomputed[t]) > 2 * worst) {
                assertEquals(GpuModels.argmax(recomputed[t]), GpuModels.argmax(decoded[t]), "step " + t + ": cached vs recomputed greedy token");
            }
        }
        // every position of the sequence greedy decoding produced, held to the fp64 forward of that sequence
        int[] produced = Arrays.copyOf(seq, seq.length - 1);
        assertArgmaxWhereTheDeviationAllows("decoded sequence, graphs " + graphs, produced, gpuLogits(produced));
    }
}
