package dev.moespec.engine.cuda;

import dev.moespec.api.config.QuantScheme;
import dev.moespec.api.tensor.DType;
import dev.moespec.api.tensor.HostTensors;
import dev.moespec.engine.loader.DemoModels;
import dev.moespec.engine.model.SyntheticMixtral;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.io.IOException;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The CPU twin of the CUDA runner (CPU only): in fp32 rounding it is the CPU model's math; in runner rounding it hands
 * the MoE BF16 rows; and its sensitivity to ulp-level perturbations — the spread two implementations of the same math
 * may show — stays within the bounds the GPU tests hold the GPU to.
 */
class CudaPathReferenceTest {
    static final int SEEDS = 3;
    /** An fp32 summation-order difference is about this relative size. */
    static final double ULP_LEVEL = 1e-7;

    @TempDir
    static Path mixtral;

    @Test
    void fp32RoundingIsTheCpuModelsMath() {
        int[] forced = GpuModels.forcedSequence(GpuModels.GOLDEN.path("prompts").get(0), "target_fp8");
        float[][] twin, cpu;
        try (CudaPathReference c = new CudaPathReference(DemoModels.target(), QuantScheme.FP8_BLOCK_128, CudaPathReference.Rounding.FP32)) {
            twin = c.logits(forced);
        }
        try (var c = GpuModels.cpuReference(DemoModels.target(), QuantScheme.FP8_BLOCK_128)) {
            cpu = GpuModels.teacherForced(c, forced);
        }
        assertEquals(0, GpuModels.maxAbsDiff(twin, cpu), 1e-5, "fp32 twin vs CpuMoeModel with cpu_reference");
    }

    @Test
    void runnerRoundingHandsTheMoeBf16RowsAndChangesTheLogits() {
        int[] forced = GpuModels.forcedSequence(GpuModels.GOLDEN.path("prompts").get(1), "target_fp8");
        float[][] runner, fp32;
        try (CudaPathReference c = new CudaPathReference(DemoModels.target(), QuantScheme.BF16, CudaPathReference.Rounding.CUDA_RUNNER)) {
            runner = c.logits(forced);
            for (int l = 0; l < c.layers(); l++) {
                for (float v : c.moeCall(l).hidden()) assertEquals(HostTensors.roundTo(DType.BF16, v), v, "layer " + l + " MoE input");
            }
        }
        try (CudaPathReference c = new CudaPathReference(DemoModels.target(), QuantScheme.BF16, CudaPathReference.Rounding.FP32)) {
            fp32 = c.logits(forced);
        }
        assertTrue(GpuModels.maxAbsDiff(runner, fp32) > 1e-4, "BF16 rounding points left the logits unchanged");
    }

    /** The largest median (over rows) of per-row max |logit diff| between the twin and ulp-perturbed copies of it. */
    private static double spread(CudaPathReference twin, int[] tokens, int from, int to, double relative) {
        float[][] base = java.util.Arrays.copyOfRange(twin.logits(tokens), from, to);
        double worst = 0;
        for (int seed = 1; seed <= SEEDS; seed++) {
            float[][] p = java.util.Arrays.copyOfRange(twin.logits(tokens, new CudaPathReference.Perturbation(relative, seed)), from, to);
            worst = Math.max(worst, GpuModels.median(GpuModels.perRowMaxDiff(p, base)));
        }
        return worst;
    }

    @ParameterizedTest(name = "demo target, MoE {0}")
    @EnumSource(value = QuantScheme.class, names = {"FP8_BLOCK_128", "BF16"})
    void demoTargetSpreadUnderUlpPerturbationsIsWithinTheGpuBound(QuantScheme scheme) {
        double worst = 0;
        try (CudaPathReference c = new CudaPathReference(DemoModels.target(), scheme, CudaPathReference.Rounding.CUDA_RUNNER)) {
            for (int p = 0; p < 4; p++) {
                var prompt = GpuModels.GOLDEN.path("prompts").get(p);
                int first = GpuModels.ints(prompt.path("input_ids")).length - 1;
                worst = Math.max(worst, spread(c, GpuModels.forcedSequence(prompt, "target_fp8"), first, first + CudaMoeModelGpuTest.STEPS, ULP_LEVEL));
            }
        }
        System.out.printf("[twin spread] demo target %s: largest median over the 48 steps of max |perturbed - twin| = %.4f (GPU bound %.3f)%n",
                scheme, worst, CudaMoeModelGpuTest.twinMedianBound(scheme));
        assertTrue(worst <= CudaMoeModelGpuTest.twinMedianBound(scheme), "the twin alone spreads by " + worst);
    }

    @Test
    void mixtralSpreadUnderUlpPerturbationsIsWithinTheGpuBound() throws IOException {
        SyntheticMixtral.write(mixtral);
        double worst;
        try (CudaPathReference c = new CudaPathReference(mixtral, QuantScheme.BF16, CudaPathReference.Rounding.CUDA_RUNNER)) {
            worst = spread(c, MixtralGpuTest.PROMPT, 0, MixtralGpuTest.PROMPT.length, ULP_LEVEL);
        }
        System.out.printf("[twin spread] synthetic Mixtral: largest median of max |perturbed - twin| = %.2e (GPU bound %.3f)%n", worst,
                MixtralGpuTest.SAME_ROUNDING_MEDIAN_BOUND);
        assertTrue(worst <= MixtralGpuTest.SAME_ROUNDING_MEDIAN_BOUND, "the twin alone spreads by " + worst);
    }
}
