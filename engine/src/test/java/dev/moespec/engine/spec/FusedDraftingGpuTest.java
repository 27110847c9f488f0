package dev.moespec.engine.spec;

import dev.moespec.engine.cuda.CudaRunners;
import dev.moespec.engine.sampling.SamplingParams;
import dev.moespec.engine.spec.gpu.FusedDrafting;
import dev.moespec.engine.wiring.Engine;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.OptionalLong;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Drafting fused behind verification ({@link FusedDrafting}) drafts exactly what the proposer drafts: greedy EAGLE and
 * MTP on the GPU give the same tokens, the same accepted drafts and the same passes with the fused path on as with
 * it off ({@code -Dmoespec.spec.fused=false}), at batch 1 and in a batch of 3 whose sequences end at different steps
 * (EOS is not ignored, so the batch shrinks and its rounds change graphs). Default mode (not batch-invariant): the
 * verification pass is the same either way, and the head's kernels compute a row the same whatever rows share its
 * step, so the drafts match bit for bit; only where they run differs.
 */
@Tag("gpu")
class FusedDraftingGpuTest {
    private static List<int[]> prompts;

    @BeforeAll
    static void prompts() {
        Assumptions.assumeTrue(CudaRunners.unavailableReason().isEmpty(),
                () -> "CUDA runner unavailable: " + CudaRunners.unavailableReason().orElse(""));
        prompts = SpecPrompts.load(7);
    }

    private record Run(List<int[]> tokens, long passes, long accepted, long fusedRounds, long siblingsAccepted) {}

    private static Run run(String method, int k, boolean fused, int batch, SamplingParams params) {
        return run(method, k, fused, 0, batch, params);
    }

    private static Run run(String method, int k, boolean fused, int siblings, int batch, SamplingParams params) {
        System.setProperty(FusedDrafting.PROPERTY, String.valueOf(fused));
        try (Engine engine = SpecPrompts.gpuEngine(method, k, "auto", null, siblings);
             SpecDecodeSession session = SpecDecodeSession.open(engine, SpecPrompts.KV)) {
            List<int[]> out = new ArrayList<>();
            List<SpecMetrics> batches = new ArrayList<>();
            for (SpecGenerationResult r : SpecPrompts.inBatches(session, prompts, batch, params)) {
                out.addAll(r.tokens());
                batches.add(r.metrics());
            }
            SpecMetrics m = SpecMetrics.sum(batches);
            return new Run(out, m.targetPasses(), m.acceptedTokens(), m.fusedRounds(), m.siblingsAccepted());
        } finally {
            System.clearProperty(FusedDrafting.PROPERTY);
        }
    }

    @ParameterizedTest(name = "{0} k={1} batch {2}")
    @CsvSource({"eagle, 4, 1", "eagle, 2, 1", "eagle, 1, 1", "eagle, 1, 3", "eagle, 3, 2", "mtp, 3, 3", "mtp, 2, 1"})
    void fusedRoundsDraftWhatTheProposerDrafts(String method, int k, int batch) {
        SamplingParams greedy = new SamplingParams(0, 0, 1, OptionalLong.empty(), 48 + 16 * batch, false);
        Run fused = run(method, k, true, batch, greedy);
        Run proposer = run(method, k, false, batch, greedy);
        assertEquals(fused.passes, fused.fusedRounds, "every round after prefill ran fused");
        assertEquals(0, proposer.fusedRounds, "turned off, every round calls the proposer");
        for (int i = 0; i < prompts.size(); i++) {
            assertArrayEquals(proposer.tokens.get(i), fused.tokens.get(i), method + " k=" + k + " prompt " + i + ": "
                    + Arrays.toString(fused.tokens.get(i)));
        }
        assertEquals(proposer.accepted, fused.accepted, "accepted drafts");
        assertEquals(proposer.passes, fused.passes, "verification passes");
    }

    /**
     * Draft trees (a sibling per chain draft, {@link FusedDrafting#siblings}) commit exactly the chain's greedy tokens:
     * an accepted sibling equals the target's argmax there, and its k and v, moved from the spare slot to its
     * position, are what every later round attends to, so one wrong slot would change later tokens. Siblings are
     * accepted in some rounds, so the same tokens take fewer passes. Batches of 2 and 3 end at different steps.
     */
    @ParameterizedTest(name = "{0} k={1} siblings {2} batch {3}")
    @CsvSource({"eagle, 4, 4, 1", "eagle, 4, 2, 1", "eagle, 3, 3, 3", "eagle, 1, 1, 1", "mtp, 2, 2, 2", "mtp, 3, 1, 1"})
    void siblingRoundsCommitWhatChainRoundsCommitInFewerPasses(String method, int k, int siblings, int batch) {
        SamplingParams greedy = new SamplingParams(0, 0, 1, OptionalLong.empty(), 48 + 16 * batch, false);
        Run chain = run(method, k, true, 0, batch, greedy);
        Run tree = run(method, k, true, siblings, batch, greedy);
        for (int i = 0; i < prompts.size(); i++) {
            assertArrayEquals(chain.tokens.get(i), tree.tokens.get(i), method + " k=" + k + " prompt " + i + ": "
                    + Arrays.toString(tree.tokens.get(i)));
        }
        assertEquals(0, chain.siblingsAccepted, "chains have no siblings");
        assertEquals(tree.passes, tree.fusedRounds, "every round after prefill ran fused");
        assertTrue(tree.siblingsAccepted > 0, "some sibling accepted");
        assertTrue(tree.passes < chain.passes, tree.passes + " tree passes against " + chain.passes + " chain passes");
    }
}
