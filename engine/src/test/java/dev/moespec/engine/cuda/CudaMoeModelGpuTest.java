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

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * golden.json (fp32 math on the dequantised weights) on the GPU path. Stated tolerances, from where the rounding is:
 * <ul>
 *   <li>BF16 MoE (triton, the FP8 target dequantised to BF16): BF16 projection/lm_head inputs and BF16 MoE I/O move
 *       logits by a few hundredths, so a greedy token may differ from golden only where the golden top-1/top-2
 *       margin is below 0.25, and the top-5 logits at the last prompt position are within 0.25.</li>
 *   <li>FP8 MoE (W8A8 with dynamic 1×128 activation groups, flashinfer_trtllm or triton on sm_89+): the activation
 *       quantisation itself moves logits by up to 0.30 (the CPU reference with the same quantisation, cpu_reference
 *       FP8_BLOCK_128, gives 15.15 for golden's 15.45 at prompt 0's last position, and shrinks prompt 2's golden
 *       margin of 0.335 at step 3 to 0.097). So against golden the bound is 0.5 for tokens and logits; against that
 *       CPU reference with the same FP8 rounding, greedy tokens must agree wherever its margin is >= 0.25.</li>
 * </ul>
 */
@Tag("gpu")
class CudaMoeModelGpuTest {
    static final float MARGIN_BOUND_BF16 = 0.25f;
    static final float MARGIN_BOUND_FP8 = 0.5f;

    static float bound(QuantScheme scheme) {
        return scheme.isFp8() ? MARGIN_BOUND_FP8 : MARGIN_BOUND_BF16;
    }

    @BeforeEach
    void gpu() {
        GpuModels.assumeGpuRunner();
    }

    private static int[] forcedSequence(JsonNode prompt, String model) {
        int[] ids = GpuModels.ints(prompt.path("input_ids"));
        int[] expected = GpuModels.ints(prompt.path(model).path("tokens"));
        int[] forced = new int[ids.length + expected.length - 1];
        System.arraycopy(ids, 0, forced, 0, ids.length);
        System.arraycopy(expected, 0, forced, ids.length, expected.length - 1);
        return forced;
    }

    @ParameterizedTest(name = "{0} ({1}), teacher-forced prompt {2}")
    @CsvSource({"flashinfer_trtllm, FP8_BLOCK_128, 0", "flashinfer_trtllm, FP8_BLOCK_128, 1",
            "flashinfer_trtllm, FP8_BLOCK_128, 2", "flashinfer_trtllm, FP8_BLOCK_128, 3",
            "triton, BF16, 0", "triton, BF16, 1", "triton, BF16, 2", "triton, BF16, 3",
            "triton, FP8_BLOCK_128, 0", "triton, FP8_BLOCK_128, 2"})
    void teacherForcedTokensMatchGoldenWhereTheMarginAllows(String backend, QuantScheme scheme, int index) {
        float marginBound = bound(scheme);
        JsonNode prompt = GpuModels.GOLDEN.path("prompts").get(index);
        int[] ids = GpuModels.ints(prompt.path("input_ids"));
        int[] expected = GpuModels.ints(prompt.path("target_fp8").path("tokens"));
        float[] margins = GpuModels.floats(prompt.path("target_fp8").path("top1_top2_margins"));
        int[] forced = forcedSequence(prompt, "target_fp8");
        try (GpuModels.Runner r = GpuModels.open(DemoModels.target(), backend, scheme)) {
            int seq = r.model().open(forced.length);
            StepOutput out = r.model().step(List.of(new SequenceChunk(seq, forced, true)));
            StringBuilder report = new StringBuilder();
            int bad = 0;
            for (int t = 0; t < expected.length; t++) {
                int got = GpuModels.argmax(out.logits(0, ids.length - 1 + t));
                if (got != expected[t]) {
                    report.append(" step ").append(t).append(": ").append(got).append(" vs ").append(expected[t])
                            .append(" (margin ").append(margins[t]).append(')');
                    if (margins[t] >= marginBound) bad++;
                }
            }
            System.out.println("[gpu golden] " + backend + " prompt " + index + " teacher-forced differences:" + (report.isEmpty() ? " none" : report));
            assertEquals(0, bad, "differs from golden where the margin is >= " + marginBound + ":" + report);
            // last prompt position of prompt 0: top-5 ids and logits
            if (index == 0) {
                JsonNode top5 = GpuModels.GOLDEN.path("target_fp8_top5_prompt0");
                float[] logits = out.logits(0, ids.length - 1);
                int[] goldIds = GpuModels.ints(top5.path("ids"));
                float[] goldLogits = GpuModels.floats(top5.path("logits"));
                double worst = 0;
                for (int i = 0; i < goldIds.length; i++) worst = Math.max(worst, Math.abs(logits[goldIds[i]] - goldLogits[i]));
                System.out.printf("[gpu golden] %s prompt 0 last-position top-5 max |logit - golden| = %.4f%n", backend, worst);
                assertEquals(goldIds[0], GpuModels.argmax(logits));
                assertTrue(worst < marginBound, "top-5 logits differ from golden by " + worst);
            }
        }
    }

    /** Free-running greedy decode (prefill, then one graph-replayed step per token), all four prompts batched. */
    @ParameterizedTest(name = "{0}: batched greedy decode, graphs {1}")
    @CsvSource({"flashinfer_trtllm, FP8_BLOCK_128, true", "flashinfer_trtllm, FP8_BLOCK_128, false", "triton, BF16, true"})
    void batchedGreedyDecodeReproducesGolden(String backend, QuantScheme scheme, boolean graphs) {
        float marginBound = bound(scheme);
        int n = GpuModels.GOLDEN.path("prompts").size();
        int steps = GpuModels.GOLDEN.path("num_new_tokens").asInt();
        try (GpuModels.Runner r = GpuModels.open(DemoModels.target(), backend, scheme)) {
            CudaMoeModel m = r.model();
            m.useGraphs(graphs);
            int[] seqs = new int[n];
            List<SequenceChunk> prefill = new ArrayList<>();
            for (int i = 0; i < n; i++) {
                int[] ids = GpuModels.ints(GpuModels.GOLDEN.path("prompts").get(i).path("input_ids"));
                seqs[i] = m.open(ids.length + steps);
                prefill.add(SequenceChunk.last(seqs[i], ids));
            }
            StepOutput first = m.step(prefill);
            int[][] got = new int[n][steps];
            int[] next = new int[n];
            for (int i = 0; i < n; i++) next[i] = GpuModels.argmax(first.lastLogits(i));
            RowSampling[] greedy = new RowSampling[n];
            Arrays.fill(greedy, RowSampling.GREEDY);
            for (int t = 0; t < steps; t++) {
                for (int i = 0; i < n; i++) got[i][t] = next[i];
                if (t + 1 < steps) next = m.decode(seqs, next, greedy);
            }
            assertTrue(m.graphFailure().isEmpty(), () -> "graph capture failed: " + m.graphFailure().get());
            assertEquals(graphs, m.graphsOn());
            for (int i = 0; i < n; i++) {
                JsonNode g = GpuModels.GOLDEN.path("prompts").get(i).path("target_fp8");
                int[] expected = GpuModels.ints(g.path("tokens"));
                float[] margins = GpuModels.floats(g.path("top1_top2_margins"));
                int firstLowMargin = steps;
                for (int t = 0; t < steps; t++) if (margins[t] < marginBound) { firstLowMargin = t; break; }
                int firstDiff = steps;
                for (int t = 0; t < steps; t++) if (got[i][t] != expected[t]) { firstDiff = t; break; }
                System.out.printf("[gpu golden] %s graphs=%s prompt %d: first difference at %d of %d (first golden margin < %.2f at %d)%n",
                        backend, graphs, i, firstDiff, steps, marginBound, firstLowMargin);
                assertTrue(firstDiff >= firstLowMargin, "prompt " + i + " diverged at step " + firstDiff
                        + " where the golden margin is " + (firstDiff < steps ? margins[firstDiff] : 0) + ": got "
                        + Arrays.toString(got[i]) + ", golden " + Arrays.toString(expected));
            }
        }
    }

    /** The FP8 path against the CPU reference with the same FP8 activation rounding, teacher-forced, all prompts. */
    @ParameterizedTest(name = "{0} vs cpu_reference, both FP8_BLOCK_128, prompt {1}")
    @CsvSource({"flashinfer_trtllm, 0", "flashinfer_trtllm, 1", "flashinfer_trtllm, 2", "flashinfer_trtllm, 3", "triton, 2"})
    void fp8PathAgreesWithTheCpuReferenceOfTheSameRounding(String backend, int index) {
        JsonNode prompt = GpuModels.GOLDEN.path("prompts").get(index);
        int[] forced = forcedSequence(prompt, "target_fp8");
        int[] ids = GpuModels.ints(prompt.path("input_ids"));
        StepOutput gpu, cpu;
        try (GpuModels.Runner r = GpuModels.open(DemoModels.target(), backend, QuantScheme.FP8_BLOCK_128)) {
            gpu = r.model().step(List.of(new SequenceChunk(r.model().open(forced.length), forced, true)));
        }
        try (var c = GpuModels.cpuReference(DemoModels.target(), QuantScheme.FP8_BLOCK_128)) {
            cpu = c.step(List.of(new SequenceChunk(c.open(forced.length), forced, true)));
        }
        double worst = 0;
        int bad = 0;
        StringBuilder report = new StringBuilder();
        for (int t = ids.length - 1; t < forced.length; t++) {
            float[] g = gpu.logits(0, t), c = cpu.logits(0, t);
            for (int v = 0; v < g.length; v++) worst = Math.max(worst, Math.abs(g[v] - c[v]));
            int top = GpuModels.argmax(c);
            float second = Float.NEGATIVE_INFINITY;
            for (int v = 0; v < c.length; v++) if (v != top) second = Math.max(second, c[v]);
            if (GpuModels.argmax(g) != top) {
                report.append(" position ").append(t).append(": ").append(GpuModels.argmax(g)).append(" vs ").append(top)
                        .append(" (cpu margin ").append(c[top] - second).append(')');
                if (c[top] - second >= MARGIN_BOUND_BF16) bad++;
            }
        }
        System.out.printf("[gpu vs cpu_reference fp8] %s prompt %d: max |logit diff| %.4f, argmax differences:%s%n", backend, index, worst,
                report.isEmpty() ? " none" : report);
        // Only the argmax is compared: both GPU W8A8 kernels (flashinfer_trtllm and triton) sit up to ~2 logits away from
        // cpu_reference's FP8 emulation somewhere in the vocabulary (measured on the H100, 2026-11-27), while agreeing
        // with it on every token whose reference margin is >= 0.25, and with golden within 0.5 (tests above).
        assertEquals(0, bad, "argmax differs from the FP8 CPU reference where its margin is >= " + MARGIN_BOUND_BF16 + ":" + report);
    }

    @Test
    void graphReplayGivesTheSameLogitsAsEagerSteps() {
        int[] ids = GpuModels.ints(GpuModels.GOLDEN.path("prompts").get(2).path("input_ids"));
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

    @Test
    void aSequenceGetsTheSameTokensAloneAndBatchedWithOthers() {
        JsonNode prompts = GpuModels.GOLDEN.path("prompts");
        int[] a = GpuModels.ints(prompts.get(1).path("input_ids")), b = GpuModels.ints(prompts.get(3).path("input_ids"));
        try (GpuModels.Runner r = GpuModels.open(DemoModels.target(), "flashinfer_trtllm", QuantScheme.FP8_BLOCK_128)) {
            CudaMoeModel m = r.model();
            int alone = m.open(a.length + 1);
            float[] aloneLogits = m.step(List.of(SequenceChunk.last(alone, a))).lastLogits(0);
            int sa = m.open(a.length + 1), sb = m.open(b.length + 1);
            StepOutput both = m.step(List.of(SequenceChunk.last(sb, b), SequenceChunk.last(sa, a)));
            float[] batched = both.lastLogits(1);
            assertEquals(GpuModels.argmax(aloneLogits), GpuModels.argmax(batched));
            double worst = 0;
            for (int i = 0; i < batched.length; i++) worst = Math.max(worst, Math.abs(batched[i] - aloneLogits[i]));
            System.out.printf("[gpu] alone vs batched max |logit diff| = %.2e%n", worst);
            assertTrue(worst < 0.05, "batching changed logits by " + worst);
        }
    }
}
