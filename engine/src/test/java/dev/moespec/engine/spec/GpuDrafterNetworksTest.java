package dev.moespec.engine.spec;

import dev.moespec.api.proposer.DraftChunk;
import dev.moespec.api.proposer.DraftHeads;
import dev.moespec.api.proposer.DraftNetwork;
import dev.moespec.api.proposer.DraftNetworkKind;
import dev.moespec.api.proposer.DraftOutput;
import dev.moespec.engine.cuda.CudaFeatureHead;
import dev.moespec.engine.cuda.CudaMoeModel;
import dev.moespec.engine.cuda.CudaRunners;
import dev.moespec.engine.model.ModelRunner;
import dev.moespec.engine.model.SequenceChunk;
import dev.moespec.engine.model.StepOutput;
import dev.moespec.engine.spec.draft.DrafterFactory;
import dev.moespec.engine.spec.draft.FeatureHeadNetwork;
import dev.moespec.engine.wiring.Engine;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.util.Arrays;
import java.util.List;
import java.util.OptionalInt;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The GPU drafter networks against their CPU twins, fed identical entries (prompt 0 of spec-prompts.jsonl with the
 * CPU target's features, then three autoregressive entries built from the CPU head's outputs):
 * <ul>
 *   <li>EAGLE / MTP heads: BF16 GEMM inputs (projections, MLP, lm_head) and, for MTP, the triton BF16 MoE against
 *       fp32 on the CPU. As for the target runner ({@code CudaMoeModelGpuTest}) logits may move by up to 0.25; the
 *       output feature within 2% (relative L2) — BF16 rounds at 2^-9 relative, a layer sums a few such errors.</li>
 *   <li>Medusa heads: fp32 GEMMs on both sides, so only summation order differs: logits within 2e-3.</li>
 * </ul>
 */
@Tag("gpu")
class GpuDrafterNetworksTest {
    private static final float LOGIT_BOUND_BF16 = 0.25f, FEATURE_REL_BOUND = 0.02f, LOGIT_BOUND_FP32 = 2e-3f;
    /**
     * An MTP entry whose CPU router has its k-th and (k+1)-th expert closer than this is a routing tie: the GPU's BF16
     * projection inputs move router logits by more than that, so which expert is picked there is decided by rounding
     * (prompt 0's first chunk ends on such an entry: a gap of 4.4e-4), and its outputs are not compared.
     */
    private static final float ROUTING_TIE = 0.01f;

    private static int[] prompt;
    private static float[][] features;

    @BeforeAll
    static void targetFeatures() {
        Assumptions.assumeTrue(CudaRunners.unavailableReason().isEmpty(),
                () -> "CUDA runner unavailable: " + CudaRunners.unavailableReason().orElse(""));
        prompt = SpecPrompts.load(1).getFirst();
        try (Engine engine = SpecPrompts.engine(null, 0); ModelRunner target = engine.target().openRunner(SpecPrompts.KV)) {
            int seq = target.open(prompt.length);
            StepOutput out = target.step(List.of(SequenceChunk.last(seq, prompt)));
            features = new float[prompt.length][];
            for (int r = 0; r < prompt.length; r++) features[r] = out.feature(0, r);
        }
    }

    /**
     * The prompt's entries in one step, then three speculative ones and a rollback. With {@code copies} = 2 the GPU's
     * first step carries the prompt's entries twice (two sequences: more rows than the fused kernels take, so the
     * cuBLAS sequence runs it); with 1 the fused kernels run every step.
     */
    @ParameterizedTest(name = "{0}, first step x{3}")
    @CsvSource({"eagle, EAGLE, , 1", "eagle, EAGLE, , 2", "mtp, MTP, triton, 1", "mtp, MTP, triton, 2"})
    void featureHeadMatchesTheCpuHead(String method, DraftNetworkKind kind, String draftBackend, int copies) {
        try (Engine cpuEngine = SpecPrompts.engine(method, 3);
             Engine gpuEngine = SpecPrompts.gpuEngine(method, 3, "flashinfer_trtllm", draftBackend);
             DraftNetwork cpu = cpuFactory(cpuEngine).network(kind);
             DraftNetwork gpu = gpuFactory(gpuEngine).network(kind)) {
            int n = prompt.length, cs = cpu.open(n + 8), gs = gpu.open(n + 8);
            // real entries (x_{p+1}, h_p), p = 0..n-2, in one chunk; then three speculative ones
            DraftChunk first = new DraftChunk(0, Arrays.copyOfRange(prompt, 1, n), Arrays.copyOfRange(features, 0, n - 1));
            DraftOutput c = cpu.forward(List.of(new DraftChunk(cs, first.tokens(), first.features())));
            List<DraftChunk> gpuFirst = new java.util.ArrayList<>();
            for (int i = 0; i < copies; i++) {
                gpuFirst.add(new DraftChunk(i == 0 ? gs : gpu.open(n + 8), first.tokens(), first.features()));
            }
            DraftOutput g = gpu.forward(gpuFirst);
            int compared = 0;
            for (int step = 0; ; step++) {
                compared += compare(method + " step " + step, cpu, c, g);
                if (step == 3) break;
                int d = argmax(c.lastLogits()[0]);
                float[][] f = {c.lastHidden()[0]};
                c = cpu.forward(List.of(new DraftChunk(cs, new int[] {d}, f)));
                g = gpu.forward(List.of(new DraftChunk(gs, new int[] {d}, f)));
            }
            assertEquals(cpu.length(cs), gpu.length(gs), "entries cached");
            // rollback: drop the speculative entries and replay one; the GPU cache must give the same output again
            cpu.truncate(cs, n - 1);
            gpu.truncate(gs, n - 1);
            int d = argmax(c.lastLogits()[0]);
            float[][] f = {features[n - 1]};
            DraftOutput cr = cpu.forward(List.of(new DraftChunk(cs, new int[] {d}, f)));
            compared += compare(method + " after rollback", cpu, cr, gpu.forward(List.of(new DraftChunk(gs, new int[] {d}, f))));
            assertTrue(compared >= 3, method + ": only " + compared + " of 5 entries were free of routing ties");
        }
    }

    /**
     * The device drafting chain ({@code forwardGreedy}: each link's token and feature taken on the device from the
     * previous link's argmax and output, one graph for the links) against the same network driven step by step through
     * {@code forward} with the argmax on the host; four steps. Rounds 0-2: sequences of different lengths in one batch
     * (the first step eager, over cuBLAS as a prefill of more than 128 rows), three of them, then (replaying the links'
     * graph of the same 4-row bucket) four, then three again. Rounds 3-4: three sequences of five new entries each, at
     * different offsets into the prompt (the first step inside the chain's graph, over the fused kernels), the second
     * round replaying the graph of the first with other contents. Rounds 5-6: one step only (the first step and the
     * argmax on the device), graph-shaped and eager. The two paths run the same kernels on the same shapes, except that
     * the chain's links gather their input (the token's row of the embedding-projection table plus the feature half
     * the pass before projected beside its logits) where each step here runs es_hl_combine, which adds the same two
     * sums; so the drafts and the cached entries are the same, exactly.
     */
    @ParameterizedTest(name = "{0}")
    @CsvSource({"eagle, EAGLE, ", "mtp, MTP, triton"})
    void deviceChainDraftsWhatStepByStepDraftingDrafts(String method, DraftNetworkKind kind, String draftBackend) {
        int maxSteps = 4;
        int[][] rounds = {{prompt.length - 1, 40, 77}, {33, prompt.length - 1, 90, 12}, {64, 21, prompt.length - 1},
                {5, 5, 5}, {5, 5, 5}, {3, 3}, {prompt.length - 1, 40}};
        int[][] offsets = {{0, 0, 0}, {0, 0, 0, 0}, {0, 0, 0}, {0, 30, 61}, {90, 7, 44}, {12, 70}, {0, 0}};
        int[] stepsOf = {maxSteps, maxSteps, maxSteps, maxSteps, maxSteps, 1, 1};
        try (Engine gpuEngine = SpecPrompts.gpuEngine(method, maxSteps, "flashinfer_trtllm", draftBackend);
             DraftNetwork gpu = gpuFactory(gpuEngine).network(kind)) {
            // links 2.. (and link 1 after a fused first step) gather the input es_hl_combine computes for each step here
            assertTrue(((CudaFeatureHead) gpu).gathersLinks(), method + ": the chain's links gather their input");
            for (int round = 0; round < rounds.length; round++) {  // later rounds replay the captured chain
                int[] lengths = rounds[round];
                int steps = stepsOf[round];
                int[] chained = new int[lengths.length], stepped = new int[lengths.length];
                List<DraftChunk> chainChunks = new java.util.ArrayList<>(), stepChunks = new java.util.ArrayList<>();
                for (int i = 0; i < lengths.length; i++) {
                    chained[i] = gpu.open(prompt.length + maxSteps);
                    stepped[i] = gpu.open(prompt.length + maxSteps);
                    int from = offsets[round][i];
                    int[] tokens = Arrays.copyOfRange(prompt, from + 1, from + lengths[i] + 1);
                    float[][] f = Arrays.copyOfRange(features, from, from + lengths[i]);
                    chainChunks.add(new DraftChunk(chained[i], tokens, f));
                    stepChunks.add(new DraftChunk(stepped[i], tokens, f));
                }
                int[][] fromChain = gpu.forwardGreedy(chainChunks, steps);
                int[][] fromSteps = new int[lengths.length][steps];
                List<DraftChunk> next = stepChunks;
                for (int j = 0; j < steps; j++) {
                    DraftOutput out = gpu.forward(next);
                    next = new java.util.ArrayList<>();
                    for (int i = 0; i < lengths.length; i++) {
                        fromSteps[i][j] = argmax(out.lastLogits()[i]);
                        next.add(new DraftChunk(stepped[i], new int[] {fromSteps[i][j]}, new float[][] {out.lastHidden()[i]}));
                    }
                }
                for (int i = 0; i < lengths.length; i++) {
                    assertArrayEquals(fromSteps[i], fromChain[i], method + " round " + round + ", sequence " + i + ": drafts");
                    assertEquals(gpu.length(stepped[i]), gpu.length(chained[i]), "entries cached");
                    assertEquals(lengths[i] + steps - 1, gpu.length(chained[i]), "entries cached");
                    gpu.release(chained[i]);
                    gpu.release(stepped[i]);
                }
                System.out.printf("%s chain round %d: drafts %s%n", method, round, Arrays.deepToString(fromChain));
            }
        }
    }

    /**
     * The catch-up on the target's features where its prefill left them ({@code stepLogitsOnly}, then
     * {@code forwardGreedyOnTarget}: no features through the host, the first step a graph padded to 32 rows) drafts
     * what {@code forwardGreedy} drafts from the same features brought back by {@code step}: two prompt prefixes in one
     * prefill (the second's feature rows start after the first's), then the whole prompt alone (one more padded graph),
     * then the prefixes again (replaying the first graph). Both first steps run the fused kernels, so the drafts and the
     * cached entries are the same, exactly. After a decode step the features are gone: refused, with why.
     */
    @ParameterizedTest(name = "{0}")
    @CsvSource({"eagle, EAGLE, ", "mtp, MTP, triton"})
    void catchUpOnTheTargetsFeaturesDraftsWhatHostFeaturesDraft(String method, DraftNetworkKind kind, String draftBackend) {
        int steps = 4;
        int[][] rounds = {{40, 50}, {prompt.length}, {40, 50}};
        try (Engine gpuEngine = SpecPrompts.gpuEngine(method, steps, "flashinfer_trtllm", draftBackend);
             CudaMoeModel target = CudaRunners.open(gpuEngine.target(), gpuEngine.device().ordinal(), SpecPrompts.KV);
             DraftNetwork net = gpuFactory(gpuEngine).network(kind)) {
            CudaFeatureHead head = (CudaFeatureHead) net;
            for (int[] lengths : rounds) {
                List<SequenceChunk> hostPrefill = new java.util.ArrayList<>(), devicePrefill = new java.util.ArrayList<>();
                for (int length : lengths) {
                    hostPrefill.add(SequenceChunk.last(target.open(length + 1), Arrays.copyOf(prompt, length)));
                    devicePrefill.add(SequenceChunk.last(target.open(length + 1), Arrays.copyOf(prompt, length)));
                }
                StepOutput host = target.step(hostPrefill);
                StepOutput logitsOnly = target.stepLogitsOnly(devicePrefill);
                assertThrows(IllegalStateException.class, () -> logitsOnly.feature(0, 0), "features stayed on the device");
                // entries (x_{p+1}, h_p) for p = 0..length-2 of each prefix
                List<DraftChunk> withFeatures = new java.util.ArrayList<>(), tokensOnly = new java.util.ArrayList<>();
                int[] featureRows = new int[lengths.length];
                int row = 0, entries = 0;
                for (int c = 0; c < lengths.length; c++) {
                    int n = lengths[c] - 1;
                    int[] tokens = Arrays.copyOfRange(prompt, 1, n + 1);
                    float[][] f = new float[n][];
                    for (int p = 0; p < n; p++) f[p] = host.feature(c, p);
                    withFeatures.add(new DraftChunk(head.open(n + steps), tokens, f));
                    tokensOnly.add(new DraftChunk(head.open(n + steps), tokens, null));
                    featureRows[c] = row;
                    row += lengths[c];
                    entries += n;
                }
                assertTrue(head.takesTargetFeatures(entries, lengths.length, steps), entries + " entries fit");
                int[][] onTarget = head.forwardGreedyOnTarget(target, tokensOnly, featureRows, steps);
                int[][] fromHost = head.forwardGreedy(withFeatures, steps);
                for (int c = 0; c < lengths.length; c++) {
                    assertArrayEquals(fromHost[c], onTarget[c], method + " prefix of " + lengths[c] + ": drafts");
                    assertEquals(head.length(withFeatures.get(c).sequence()), head.length(tokensOnly.get(c).sequence()),
                            "entries cached");
                    head.release(withFeatures.get(c).sequence());
                    head.release(tokensOnly.get(c).sequence());
                }
                System.out.printf("%s catch-up of %s on the target's features: drafts %s%n", method,
                        Arrays.toString(lengths), Arrays.deepToString(onTarget));
                int tail = hostPrefill.getFirst().sequence();
                target.greedyStep(new int[] {tail}, new int[] {prompt[0]});
                int hs = head.open(lengths[0] + steps);
                IllegalStateException gone = assertThrows(IllegalStateException.class, () -> head.forwardGreedyOnTarget(
                        target, List.of(new DraftChunk(hs, tokensOnly.getFirst().tokens(), null)), new int[] {0}, steps));
                assertTrue(gone.getMessage().contains("decode step"), gone.getMessage());
                head.release(hs);
                for (SequenceChunk c : hostPrefill) target.release(c.sequence());
                for (SequenceChunk c : devicePrefill) target.release(c.sequence());
            }
        }
    }

    /**
     * The greedy prefill with the catch-up queued right behind it ({@code forwardGreedyAfterPrefill}: one
     * synchronisation, the first token's entry filled in on the device) gives the first tokens the host's argmax of a
     * {@code stepLogitsOnly} prefill gives, and the drafts {@code forwardGreedyOnTarget} drafts with those tokens:
     * two prompt prefixes in one prefill, the whole prompt, and a one-token prompt beside a seven-token one (its only
     * entry is the first token's).
     */
    @ParameterizedTest(name = "{0}")
    @CsvSource({"eagle, EAGLE, ", "mtp, MTP, triton"})
    void catchUpQueuedBehindTheGreedyPrefillDraftsWhatTheHostsFirstTokenDrafts(String method, DraftNetworkKind kind,
                                                                              String draftBackend) {
        int steps = 4;
        int[][] rounds = {{40, 50}, {prompt.length}, {1, 7}};
        try (Engine gpuEngine = SpecPrompts.gpuEngine(method, steps, "flashinfer_trtllm", draftBackend);
             CudaMoeModel target = CudaRunners.open(gpuEngine.target(), gpuEngine.device().ordinal(), SpecPrompts.KV);
             DraftNetwork net = gpuFactory(gpuEngine).network(kind)) {
            CudaFeatureHead head = (CudaFeatureHead) net;
            for (int[] lengths : rounds) {
                List<SequenceChunk> twoStep = new java.util.ArrayList<>(), queued = new java.util.ArrayList<>();
                for (int length : lengths) {
                    twoStep.add(SequenceChunk.last(target.open(length + 1), Arrays.copyOf(prompt, length)));
                    queued.add(SequenceChunk.last(target.open(length + 1), Arrays.copyOf(prompt, length)));
                }
                StepOutput logits = target.stepLogitsOnly(twoStep);
                // entries (x_{p+1}, h_p) for p = 0..length-1 of each prefix, x_length its first token
                List<DraftChunk> withFirst = new java.util.ArrayList<>(), placeholders = new java.util.ArrayList<>();
                int[] firstTokens = new int[lengths.length], featureRows = new int[lengths.length];
                int row = 0;
                for (int c = 0; c < lengths.length; c++) {
                    int n = lengths[c];
                    firstTokens[c] = argmax(logits.lastLogits(c));
                    int[] tokens = Arrays.copyOfRange(prompt, 1, n + 1);
                    tokens[n - 1] = firstTokens[c];
                    withFirst.add(new DraftChunk(head.open(n + steps), tokens, null));
                    int[] unknown = tokens.clone();
                    unknown[n - 1] = 0; // the device fills it in
                    placeholders.add(new DraftChunk(head.open(n + steps), unknown, null));
                    featureRows[c] = row;
                    row += n;
                }
                int[][] twoStepDrafts = head.forwardGreedyOnTarget(target, withFirst, featureRows, steps);
                CudaFeatureHead.PrefillDrafts one = head.forwardGreedyAfterPrefill(target, queued, placeholders, featureRows,
                        steps);
                assertArrayEquals(firstTokens, one.firstTokens(), method + " " + Arrays.toString(lengths) + ": first tokens");
                for (int c = 0; c < lengths.length; c++) {
                    assertArrayEquals(twoStepDrafts[c], one.drafts()[c], method + " prefix of " + lengths[c] + ": drafts");
                    assertEquals(head.length(withFirst.get(c).sequence()), head.length(placeholders.get(c).sequence()),
                            "entries cached");
                    assertEquals(target.length(twoStep.get(c).sequence()), target.length(queued.get(c).sequence()),
                            "target tokens cached");
                    head.release(withFirst.get(c).sequence());
                    head.release(placeholders.get(c).sequence());
                }
                System.out.printf("%s prefill of %s with the catch-up behind it: first tokens %s, drafts %s%n", method,
                        Arrays.toString(lengths), Arrays.toString(one.firstTokens()), Arrays.deepToString(one.drafts()));
                for (SequenceChunk c : twoStep) target.release(c.sequence());
                for (SequenceChunk c : queued) target.release(c.sequence());
            }
        }
    }

    @Test
    void medusaHeadsMatchTheCpuHeads() {
        try (Engine cpuEngine = SpecPrompts.engine("medusa", 3);
             Engine gpuEngine = SpecPrompts.gpuEngine("medusa", 3, "flashinfer_trtllm", null);
             DraftHeads cpu = cpuFactory(cpuEngine).heads();
             DraftHeads gpu = gpuFactory(gpuEngine).heads()) {
            assertEquals(cpu.numHeads(), gpu.numHeads());
            for (int r : new int[] {0, 17, 64, prompt.length - 1}) {
                float[][] c = cpu.logits(features[r]), g = gpu.logits(features[r]);
                for (int head = 0; head < c.length; head++) {
                    float diff = maxAbsDiff(c[head], g[head]);
                    assertTrue(diff <= LOGIT_BOUND_FP32, "medusa head " + head + " at position " + r + ": logits differ by " + diff);
                }
            }
        }
    }

    /** Compares the last entry's outputs unless the CPU network's routing was tied there; 1 when compared. */
    private static int compare(String what, DraftNetwork cpuNetwork, DraftOutput cpu, DraftOutput gpu) {
        if (cpuNetwork instanceof FeatureHeadNetwork head) {
            double gap = head.lastRoutingGap().orElse(Double.POSITIVE_INFINITY);
            if (gap < ROUTING_TIE) {
                System.out.printf("%s: not compared, a routing tie (top-k boundary gap %.2e)%n", what, gap);
                return 0;
            }
        }
        float diff = maxAbsDiff(cpu.lastLogits()[0], gpu.lastLogits()[0]);
        double rel = relL2(cpu.lastHidden()[0], gpu.lastHidden()[0]);
        System.out.printf("%s: max |logit diff| %.4f, feature rel L2 %.5f%n", what, diff, rel);
        assertTrue(diff <= LOGIT_BOUND_BF16, what + ": logits differ by " + diff);
        assertTrue(rel <= FEATURE_REL_BOUND, what + ": output feature differs by " + rel + " (relative L2)");
        return 1;
    }

    private static DrafterFactory cpuFactory(Engine e) {
        return new DrafterFactory(e.target().config(), e.draft().orElseThrow(), SpecPrompts.KV);
    }

    private static DrafterFactory gpuFactory(Engine e) {
        return new DrafterFactory(e.target().config(), e.draft().orElseThrow(), SpecPrompts.KV,
                OptionalInt.of(e.device().ordinal()));
    }

    private static float maxAbsDiff(float[] a, float[] b) {
        assertEquals(a.length, b.length);
        float m = 0;
        for (int i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
        return m;
    }

    private static double relL2(float[] a, float[] b) {
        double num = 0, den = 0;
        for (int i = 0; i < a.length; i++) {
            num += (a[i] - b[i]) * (double) (a[i] - b[i]);
            den += a[i] * (double) a[i];
        }
        return Math.sqrt(num / den);
    }

    private static int argmax(float[] v) {
        int best = 0;
        for (int i = 1; i < v.length; i++) if (v[i] > v[best]) best = i;
        return best;
    }
}
