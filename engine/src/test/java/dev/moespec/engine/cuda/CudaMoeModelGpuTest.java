package dev.moespec.engine.cuda;

import com.fasterxml.jackson.databind.JsonNode;
import dev.moespec.api.config.QuantScheme;
import dev.moespec.engine.loader.DemoModels;
import dev.moespec.engine.model.SequenceChunk;
import dev.moespec.engine.model.StepOutput;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * golden.json (fp32 math on the FP8 weights dequantised, activations not quantised: FORMAT.md §7) on the GPU path,
 * with criteria measured rather than chosen. engine/README.md ("Correctness and tolerances") has the reasoning.
 * <ul>
 *   <li><b>GPU vs its CPU twin.</b> {@link CudaPathReference} in {@code CUDA_RUNNER} rounding computes what the GPU
 *       computes (BF16 dense GEMM inputs and weights, BF16 MoE I/O, the same MoE quantisation through cpu_reference;
 *       {@link Fp8MoeLayerGpuTest} shows the MoE kernels agree with cpu_reference per layer). Whole-model logits of two
 *       such implementations still drift apart: an fp32 summation-order difference flips a BF16 or e4m3 rounding
 *       somewhere, W8A8 amplifies that, and a router near-tie turns it into another expert. So the GPU is held to the
 *       spread the twin shows under ulp-level perturbations of itself ({@link CudaPathReferenceTest}): the median over
 *       the 48 steps of the per-step max |logit diff| within {@link #twinMedianBound}, and the argmax equal to the
 *       twin's wherever the twin's margin exceeds 2ε (ε = the measured max over all steps).</li>
 *   <li><b>Against golden.</b> δ = the twin's max |logit − golden| over a prompt's 48 teacher-forced steps (golden's
 *       logits are the exact fp32 CPU forward, {@link GpuModels#exact}, checked here against golden's tokens and
 *       top-5). The GPU run is another realisation of the same W8A8 math, so wherever the golden top-1/top-2 margin
 *       exceeds 2δ it must give the golden token, and free-running greedy decode must follow golden up to the first
 *       step whose margin is not above 2δ. The BF16 path (FP8 weights dequantised, triton) must also give all 4 × 48
 *       golden tokens, teacher-forced and free-running.</li>
 * </ul>
 */
@Tag("gpu")
class CudaMoeModelGpuTest {
    /**
     * Bounds on the median over the 48 teacher-forced steps of max |GPU logit − twin logit|: above the largest median
     * the twin itself shows under ulp-level (1e-7 relative) perturbations of its residual stream: up to 0.29 for W8A8
     * and 0.043 for BF16 over the demo target's 4 prompts and several seeds ({@link CudaPathReferenceTest} re-measures
     * it on every build). On the H100 the GPU's medians were 0.22-0.29 (flashinfer_trtllm) and 0.033-0.042 (triton BF16).
     */
    static final double TWIN_MEDIAN_BOUND_FP8 = 0.5;
    static final double TWIN_MEDIAN_BOUND_BF16 = 0.1;
    static final int STEPS = 48;

    static double twinMedianBound(QuantScheme scheme) {
        return scheme.isFp8() ? TWIN_MEDIAN_BOUND_FP8 : TWIN_MEDIAN_BOUND_BF16;
    }

    /** What one teacher-forced GPU run measured against its twin (ε) and the twin against golden (δ), over the 48 steps. */
    record Measured(float[][] gpu, float[][] twin, float[][] exact, double eps, double epsMedian, double delta, double gpuVsGolden,
                    double fp32DenseDelta, double gpuVsFp32Dense) {
        /** A golden margin above this fixes the token of a run with this W8A8 (or BF16) math. */
        double goldenBound() {
            return 2 * delta;
        }
    }

    private static final Map<String, Measured> MEASURED = new ConcurrentHashMap<>();

    /** The 48 step positions of a teacher-forced prompt (cached per backend, scheme and prompt). */
    static Measured measure(String backend, QuantScheme scheme, int index) {
        return MEASURED.computeIfAbsent(backend + "/" + scheme + "/" + index, key -> {
            JsonNode prompt = GpuModels.GOLDEN.path("prompts").get(index);
            int p = GpuModels.ints(prompt.path("input_ids")).length;
            int[] forced = GpuModels.forcedSequence(prompt, "target_fp8");
            float[][] gpu, twin, exact, fp32Dense;
            try (GpuModels.Runner r = GpuModels.open(DemoModels.target(), backend, scheme)) {
                gpu = GpuModels.teacherForced(r.model(), forced);
            }
            try (CudaPathReference c = new CudaPathReference(DemoModels.target(), scheme, CudaPathReference.Rounding.CUDA_RUNNER)) {
                twin = c.logits(forced);
            }
            try (var c = GpuModels.exact(DemoModels.target())) {
                exact = GpuModels.teacherForced(c, forced);
            }
            try (var c = GpuModels.cpuReference(DemoModels.target(), scheme)) {
                fp32Dense = GpuModels.teacherForced(c, forced);
            }
            gpu = steps(gpu, p);
            twin = steps(twin, p);
            exact = steps(exact, p);
            fp32Dense = steps(fp32Dense, p);
            double[] perStep = GpuModels.perRowMaxDiff(gpu, twin);
            Measured m = new Measured(gpu, twin, exact, GpuModels.maxAbsDiff(gpu, twin), GpuModels.median(perStep),
                    GpuModels.maxAbsDiff(twin, exact), GpuModels.maxAbsDiff(gpu, exact), GpuModels.maxAbsDiff(fp32Dense, exact),
                    GpuModels.maxAbsDiff(gpu, fp32Dense));
            System.out.printf("[gpu golden] %s %s prompt %d: |gpu - twin| max %.4f, median over steps %.4f; delta = max|twin - golden|"
                            + " %.4f; max|gpu - golden| %.4f; fp32-dense cpu_reference run: %.4f from golden, %.4f from the gpu%n",
                    backend, scheme, index, m.eps(), m.epsMedian(), m.delta(), m.gpuVsGolden(), m.fp32DenseDelta(), m.gpuVsFp32Dense());
            return m;
        });
    }

    private static float[][] steps(float[][] all, int promptLength) {
        return java.util.Arrays.copyOfRange(all, promptLength - 1, promptLength - 1 + STEPS);
    }

    @BeforeEach
    void gpu() {
        GpuModels.assumeGpuRunner();
    }

    @ParameterizedTest(name = "{0} ({1}) vs its CPU twin, teacher-forced prompt {2}")
    @CsvSource({"flashinfer_trtllm, FP8_BLOCK_128, 0", "flashinfer_trtllm, FP8_BLOCK_128, 1",
            "flashinfer_trtllm, FP8_BLOCK_128, 2", "flashinfer_trtllm, FP8_BLOCK_128, 3",
            "triton, FP8_BLOCK_128, 0", "triton, FP8_BLOCK_128, 2",
            "triton, BF16, 0", "triton, BF16, 1", "triton, BF16, 2", "triton, BF16, 3"})
    void teacherForcedLogitsAgreeWithTheCpuTwinOfTheSameRounding(String backend, QuantScheme scheme, int index) {
        Measured m = measure(backend, scheme, index);
        assertTrue(m.epsMedian() <= twinMedianBound(scheme), backend + " " + scheme + " prompt " + index + ": median over the steps"
                + " of max |logit - CPU twin| = " + m.epsMedian() + " > " + twinMedianBound(scheme));
        StringBuilder report = new StringBuilder();
        int bad = 0, compared = 0;
        for (int t = 0; t < STEPS; t++) {
            float margin = GpuModels.margin(m.twin()[t]);
            int g = GpuModels.argmax(m.gpu()[t]), c = GpuModels.argmax(m.twin()[t]);
            if (margin > 2 * m.eps()) compared++;
            if (g != c) {
                report.append(" step ").append(t).append(": ").append(g).append(" vs ").append(c).append(" (twin margin ").append(margin).append(')');
                if (margin > 2 * m.eps()) bad++;
            }
        }
        System.out.printf("[gpu twin] %s %s prompt %d: argmax compared at %d/%d steps (twin margin > 2 eps = %.4f); differences:%s%n",
                backend, scheme, index, compared, STEPS, 2 * m.eps(), report.isEmpty() ? " none" : report);
        assertEquals(0, bad, "argmax differs from the CPU twin where its margin exceeds 2 eps:" + report);
    }

    @ParameterizedTest(name = "{0} ({1}), golden tokens where the measured deviation allows, teacher-forced prompt {2}")
    @CsvSource({"flashinfer_trtllm, FP8_BLOCK_128, 0", "flashinfer_trtllm, FP8_BLOCK_128, 1",
            "flashinfer_trtllm, FP8_BLOCK_128, 2", "flashinfer_trtllm, FP8_BLOCK_128, 3",
            "triton, FP8_BLOCK_128, 0", "triton, FP8_BLOCK_128, 2",
            "triton, BF16, 0", "triton, BF16, 1", "triton, BF16, 2", "triton, BF16, 3"})
    void teacherForcedTokensAreGoldenWhereTheMeasuredDeviationAllows(String backend, QuantScheme scheme, int index) {
        Measured m = measure(backend, scheme, index);
        JsonNode g = GpuModels.GOLDEN.path("prompts").get(index).path("target_fp8");
        int[] golden = GpuModels.ints(g.path("tokens"));
        float[] margins = GpuModels.floats(g.path("top1_top2_margins"));
        // the exact fp32 forward stands for golden's logits: it must give golden's tokens
        for (int t = 0; t < STEPS; t++) assertEquals(golden[t], GpuModels.argmax(m.exact()[t]), "exact fp32 forward vs golden, step " + t);
        if (index == 0) {
            JsonNode top5 = GpuModels.GOLDEN.path("target_fp8_top5_prompt0");
            int[] ids = GpuModels.ints(top5.path("ids"));
            float[] logits = GpuModels.floats(top5.path("logits"));
            for (int i = 0; i < ids.length; i++) {
                assertEquals(logits[i], m.exact()[0][ids[i]], 1e-3, "exact fp32 forward vs golden top-5 at the last prompt position");
            }
        }
        StringBuilder report = new StringBuilder();
        int covered = 0, bad = 0, differ = 0;
        for (int t = 0; t < STEPS; t++) {
            int got = GpuModels.argmax(m.gpu()[t]);
            boolean fixed = margins[t] > m.goldenBound();
            if (fixed) covered++;
            if (got != golden[t]) {
                differ++;
                report.append(" step ").append(t).append(": ").append(got).append(" vs ").append(golden[t])
                        .append(" (golden margin ").append(margins[t]).append(')');
                if (fixed) bad++;
            }
        }
        System.out.printf("[gpu golden] %s %s prompt %d: golden token required at %d/%d steps (margin > 2 delta = %.4f);"
                        + " %d differ:%s%n", backend, scheme, index, covered, STEPS, m.goldenBound(), differ,
                report.isEmpty() ? " none" : report);
        assertEquals(0, bad, "differs from golden where the golden margin exceeds 2 delta = " + m.goldenBound() + ":" + report);
        if (!scheme.isFp8()) assertEquals(0, differ, "the BF16 path must give every golden token:" + report);
    }

    /** Free-running greedy decode (prefill, then one step per token on the GPU sampler), all four prompts batched. */
    @ParameterizedTest(name = "{0} ({1}): batched greedy decode, graphs {2}")
    @CsvSource({"flashinfer_trtllm, FP8_BLOCK_128, true", "flashinfer_trtllm, FP8_BLOCK_128, false",
            "triton, BF16, true", "triton, BF16, false"})
    void batchedGreedyDecodeFollowsGoldenAsFarAsTheMeasuredDeviationAllows(String backend, QuantScheme scheme, boolean graphs) {
        int n = GpuModels.GOLDEN.path("prompts").size();
        int[][] got = new int[n][STEPS];
        try (GpuModels.Runner r = GpuModels.open(DemoModels.target(), backend, scheme)) {
            CudaMoeModel m = r.model();
            m.useGraphs(graphs);
            int[] seqs = new int[n];
            List<SequenceChunk> prefill = new ArrayList<>();
            for (int i = 0; i < n; i++) {
                int[] ids = GpuModels.goldenIds(i);
                seqs[i] = m.open(ids.length + STEPS);
                prefill.add(SequenceChunk.last(seqs[i], ids));
            }
            StepOutput first = m.step(prefill);
            int[] next = new int[n];
            for (int i = 0; i < n; i++) next[i] = GpuModels.argmax(first.lastLogits(i));
            RowSampling[] greedy = new RowSampling[n];
            Arrays.fill(greedy, RowSampling.GREEDY);
            for (int t = 0; t < STEPS; t++) {
                for (int i = 0; i < n; i++) got[i][t] = next[i];
                if (t + 1 < STEPS) next = m.decode(seqs, next, greedy);
            }
            assertTrue(m.graphFailure().isEmpty(), () -> "graph capture failed: " + m.graphFailure().get());
            assertEquals(graphs, m.graphsOn());
        }
        int required = 0, matched = 0;
        for (int i = 0; i < n; i++) {
            JsonNode g = GpuModels.GOLDEN.path("prompts").get(i).path("target_fp8");
            int[] expected = GpuModels.ints(g.path("tokens"));
            float[] margins = GpuModels.floats(g.path("top1_top2_margins"));
            double bound = measure(backend, scheme, i).goldenBound();
            int limit = STEPS;
            for (int t = 0; t < STEPS; t++) if (margins[t] <= bound) { limit = t; break; }
            int firstDiff = STEPS;
            for (int t = 0; t < STEPS; t++) if (got[i][t] != expected[t]) { firstDiff = t; break; }
            if (!scheme.isFp8()) limit = STEPS; // the BF16 path is held to every golden token
            required += limit;
            matched += firstDiff;
            System.out.printf("[gpu golden] %s %s graphs=%s prompt %d: follows golden for %d of %d steps (required: %d,"
                    + " the first golden margin <= 2 delta = %.4f)%n", backend, scheme, graphs, i, firstDiff, STEPS, limit, bound);
            assertTrue(firstDiff >= limit, "prompt " + i + " left golden at step " + firstDiff + " (golden margin "
                    + (firstDiff < STEPS ? margins[firstDiff] : 0) + ") before step " + limit + ": got " + Arrays.toString(got[i])
                    + ", golden " + Arrays.toString(expected));
        }
        System.out.printf("[gpu golden] %s %s graphs=%s: %d of %d free-running golden tokens required, %d reproduced before the first difference%n",
                backend, scheme, graphs, required, n * STEPS, matched);
    }

    @Test
    void graphReplayGivesTheSameLogitsAsEagerSteps() {
        int[] ids = GpuModels.goldenIds(2);
        float[][] eager = new float[6][], graph = new float[6][];
        for (boolean useGraphs : new boolean[]{false, true}) {
            try (GpuModels.Runner r = GpuModels.open(DemoModels.target(), "flashinfer_trtllm", QuantScheme.FP8_BLOCK_128)) {
                r.model().useGraphs(useGraphs);
                int seq = r.model().open(ids.length + 8);
                int token = GpuModels.argmax(r.model().step(List.of(SequenceChunk.last(seq, ids))).lastLogits(0));
                for (int t = 0; t < 6; t++) {
                    float[] l = r.model().step(List.of(SequenceChunk.last(seq, token))).lastLogits(0);
                    (useGraphs ? graph : eager)[t] = l;
                    token = GpuModels.argmax(l);
                }
                assertTrue(r.model().graphFailure().isEmpty(), () -> "graph capture failed: " + r.model().graphFailure().get());
            }
        }
        for (int t = 0; t < 6; t++) assertArrayEquals(eager[t], graph[t], 1e-4f, "step " + t);
    }

    /**
     * A prefill through its graph (rows padded to a multiple of 32, the MoE in decode-phase slices) scores the prompts as
     * an eager prefill does: the same argmax, logits within the bound of a row meeting other kernels (as batching
     * does, below); its replay, the same kernels again, gives the first run's logits exactly. A prompt of ~100 tokens
     * alone (128 rows: two MoE slices, where the eager prefill runs the MoE's prefill phase), then with a second one
     * (160 rows).
     */
    @Test
    void aPrefillGraphScoresPromptsAsAnEagerPrefill() {
        int[] a = GpuModels.goldenIds(2), b = GpuModels.goldenIds(3);
        try (GpuModels.Runner r = GpuModels.open(DemoModels.target(), "flashinfer_trtllm", QuantScheme.FP8_BLOCK_128)) {
            CudaMoeModel m = r.model();
            int[] longer = a; // past the MoE's 64-row decode phase: eager runs its prefill phase, the graph two slices
            while (longer.length <= 96) {
                int[] next = Arrays.copyOf(longer, longer.length + b.length);
                System.arraycopy(b, 0, next, longer.length, b.length);
                longer = next;
            }
            // past the 64 rows of a graph-bucketed step (a shorter single prompt replays the decode graphs' bucket)
            for (List<int[]> batch : List.of(List.of(longer), List.of(longer, a))) {
                float[][][] runs = new float[3][][]; // eager, graph (captured), graph (replayed)
                for (int run = 0; run < 3; run++) {
                    m.useGraphs(run > 0);
                    List<SequenceChunk> chunks = new java.util.ArrayList<>();
                    for (int[] ids : batch) chunks.add(SequenceChunk.last(m.open(ids.length), ids));
                    StepOutput out = m.stepLogitsOnly(chunks);
                    assertEquals(run > 0, m.prefillGraphCount() > 0, "run " + run + " through a prefill graph");
                    runs[run] = new float[batch.size()][];
                    for (int c = 0; c < batch.size(); c++) runs[run][c] = out.lastLogits(c);
                    for (SequenceChunk c : chunks) m.release(c.sequence());
                }
                for (int c = 0; c < batch.size(); c++) {
                    assertEquals(GpuModels.argmax(runs[0][c]), GpuModels.argmax(runs[1][c]), "prompt " + c + " of " + batch.size());
                    double worst = maxAbsDiff(runs[0][c], runs[1][c]);
                    System.out.printf("[gpu] prefill graph vs eager, prompt %d of %d: max |logit diff| = %.2e%n", c,
                            batch.size(), worst);
                    assertTrue(worst < 0.05, "the prefill graph changed logits by " + worst);
                    assertArrayEquals(runs[1][c], runs[2][c], "replay of the prefill graph");
                }
            }
            assertTrue(m.graphFailure().isEmpty(), () -> "graph capture failed: " + m.graphFailure().get());
        }
    }

    @Test
    void aSequenceGetsTheSameTokensAloneAndBatchedWithOthers() {
        int[] a = GpuModels.goldenIds(1), b = GpuModels.goldenIds(3);
        try (GpuModels.Runner r = GpuModels.open(DemoModels.target(), "flashinfer_trtllm", QuantScheme.FP8_BLOCK_128)) {
            CudaMoeModel m = r.model();
            int alone = m.open(a.length + 1);
            float[] aloneLogits = m.step(List.of(SequenceChunk.last(alone, a))).lastLogits(0);
            int sa = m.open(a.length + 1), sb = m.open(b.length + 1);
            StepOutput both = m.step(List.of(SequenceChunk.last(sb, b), SequenceChunk.last(sa, a)));
            float[] batched = both.lastLogits(1);
            assertEquals(GpuModels.argmax(aloneLogits), GpuModels.argmax(batched));
            double worst = maxAbsDiff(batched, aloneLogits);
            System.out.printf("[gpu] alone vs batched max |logit diff| = %.2e%n", worst);
            assertTrue(worst < 0.05, "batching changed logits by " + worst);
        }
    }

    private static double maxAbsDiff(float[] a, float[] b) {
        double worst = 0;
        for (int i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]));
        return worst;
    }
}
