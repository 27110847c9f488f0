package dev.moespec.engine.spec.gpu;

import dev.moespec.cuda.Cuda;
import dev.moespec.cuda.CudaAvailability;
import dev.moespec.cuda.CudaContext;
import dev.moespec.cuda.CudaStream;
import dev.moespec.cuda.DeviceBuffer;
import dev.moespec.engine.sampling.Sampler;
import dev.moespec.engine.sampling.SamplingParams;
import dev.moespec.proposers.cuda.DraftSampling;
import dev.moespec.proposers.cuda.GpuDraftSampler;
import dev.moespec.proposers.cuda.ProposerKernels;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;
import java.util.OptionalLong;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The proposers' GPU draft sampler ({@code draft_sampling.cu}) against the engine's CPU {@link Sampler}: for the same
 * logits, settings and uniform, the same token, and the probability row equal to {@link Sampler#probabilities}
 * rounded to fp32 (within 4 ulps: the GPU sums the softmax in another order). Lives in the engine's tests because
 * the CPU sampler is the engine's; the proposers module must not depend on the engine.
 */
@Tag("gpu")
class GpuDraftSamplerGpuTest {

    /** The CPU sampler's pick for a given u, from its published distribution (what {@link Sampler#sample} does). */
    private static int cpuPick(float[] logits, SamplingParams p, double u) {
        if (p.isGreedy()) return Sampler.argmax(logits);
        double[] prob = Sampler.probabilities(logits, p);
        double acc = 0;
        int last = -1;
        for (int i = 0; i < prob.length; i++) {
            if (prob[i] == 0) continue;
            acc += prob[i];
            last = i;
            if (u < acc) return i;
        }
        return last;
    }

    @Test
    void tokensAndProbabilityRowsEqualTheCpuSampler() {
        CudaAvailability availability = Cuda.available();
        assumeTrue(availability instanceof CudaAvailability.Available,
                () -> "no usable CUDA GPU: " + ((CudaAvailability.Unavailable) availability).reason());
        assumeTrue(ProposerKernels.present(), "the proposers jar was built without nvcc (no fatbin)");
        double[][] settings = {{0, 0, 1}, {1, 0, 1}, {0.7, 20, 1}, {1.3, 0, 0.9}, {0.8, 50, 0.8}, {1, 1, 1},
                {0.6, 5, 0.5}, {2.0, -1, 0.95}, {1, 3, 0.3}};
        Random rnd = new Random(11);
        int rows = 48, checked = 0, distinctTokens;
        java.util.Set<Integer> seen = new java.util.HashSet<>();
        try (CudaContext ctx = CudaContext.open(0); CudaStream stream = CudaStream.create(ctx);
             GpuDraftSampler sampler = new GpuDraftSampler(ctx); Arena arena = Arena.ofConfined()) {
            for (int vocab : new int[]{3, 320, 5000, 40_000}) {
                for (double[] s : settings) {
                    // coarse logits (few distinct values) only where top_p = 1: ties are then resolved exactly (top-k
                    // boundary, argmax), while a top-p cut that lands exactly on a tie-group multiple is decided by
                    // the CPU's sequential rounding (see draft_sampling.cu)
                    for (boolean coarse : s[2] < 1 ? new boolean[]{false} : new boolean[]{false, true}) {
                        float[] logits = new float[rows * vocab];
                        for (int i = 0; i < logits.length; i++) {
                            // coarse logits take few values: ties at the top-k and top-p boundaries
                            logits[i] = coarse ? rnd.nextInt(5) : (float) (rnd.nextGaussian() * 3);
                        }
                        List<DraftSampling> rowSettings = new ArrayList<>();
                        for (int r = 0; r < rows; r++) rowSettings.add(new DraftSampling(s[0], (int) s[1], s[2], rnd.nextDouble()));
                        // coarse rows go to slot 1 of a [rows][2][vocab] layout (the stride the drafters use)
                        int slots = coarse ? 2 : 1, slot = coarse ? 1 : 0;
                        MemorySegment hl = arena.allocate(4L * logits.length), hp = arena.allocate(4L * slots * logits.length);
                        MemorySegment.copy(logits, 0, hl, ValueLayout.JAVA_FLOAT, 0, logits.length);
                        int[] tokens;
                        try (DeviceBuffer dl = DeviceBuffer.alloc(ctx, hl.byteSize()); DeviceBuffer dp = DeviceBuffer.alloc(ctx, hp.byteSize())) {
                            dl.copyFrom(hl);
                            tokens = sampler.sample(stream, dl.address(), vocab, rowSettings,
                                    dp.address() + 4L * vocab * slot, (long) slots * vocab);
                            dp.copyTo(hp);
                        }
                        SamplingParams p = new SamplingParams(s[0], (int) s[1], s[2], OptionalLong.of(1), 1, false);
                        for (int r = 0; r < rows; r++) {
                            float[] row = new float[vocab];
                            System.arraycopy(logits, r * vocab, row, 0, vocab);
                            String where = "vocab " + vocab + " T=" + s[0] + " top_k=" + (int) s[1] + " top_p=" + s[2]
                                    + (coarse ? " coarse" : "") + " row " + r + " u=" + rowSettings.get(r).u();
                            assertEquals(cpuPick(row, p, rowSettings.get(r).u()), tokens[r], where);
                            seen.add(tokens[r]);
                            double[] want = Sampler.probabilities(row, p);
                            for (int t = 0; t < vocab; t++) {
                                float w = (float) want[t], g = hp.getAtIndex(ValueLayout.JAVA_FLOAT,
                                        ((long) r * slots + slot) * vocab + t);
                                if (w == 0) assertEquals(0f, g, where + " token " + t + " is outside the kept set");
                                else assertEquals(w, g, 4 * Math.ulp(w), where + " token " + t);
                            }
                            checked++;
                        }
                    }
                }
            }
        }
        distinctTokens = seen.size();
        assertTrue(distinctTokens > 50, "sampling should reach many tokens, got " + distinctTokens);
        System.out.printf("draft sampler GPU vs CPU Sampler: %d rows equal (token and probability row), %d distinct tokens%n",
                checked, distinctTokens);
    }
}
