package dev.moespec.engine.spec;

import dev.moespec.api.proposer.DraftChunk;
import dev.moespec.api.proposer.DraftNetwork;
import dev.moespec.api.proposer.DraftNetworkKind;
import dev.moespec.api.proposer.DraftOutput;
import dev.moespec.engine.spec.draft.DrafterFactory;
import dev.moespec.engine.spec.draft.RunnerDraftNetwork;
import dev.moespec.engine.wiring.Engine;
import org.junit.jupiter.api.Test;

import java.util.Arrays;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;

/**
 * The draft model's greedy chain ({@link RunnerDraftNetwork#forwardGreedy}: single-token steps through the runner's
 * greedy step) drafts what {@link DraftNetwork}'s step-by-step default drafts and leaves the same sequence lengths,
 * over rounds whose first chunk is a prompt, two accepted tokens and one (CPU; on the GPU the same path runs under
 * {@code GpuGreedySpeculativeEquivalenceTest}).
 */
class DraftModelGreedyChainTest {
    /** The network with only the interface's default forwardGreedy. */
    private record StepByStep(DraftNetwork n) implements DraftNetwork {
        public DraftNetworkKind kind() { return n.kind(); }
        public int vocabSize() { return n.vocabSize(); }
        public int hiddenSize() { return n.hiddenSize(); }
        public int open(int maxEntries) { return n.open(maxEntries); }
        public void release(int sequence) { n.release(sequence); }
        public int length(int sequence) { return n.length(sequence); }
        public void truncate(int sequence, int length) { n.truncate(sequence, length); }
        public DraftOutput forward(List<DraftChunk> chunks) { return n.forward(chunks); }
        public String moeBackend() { return n.moeBackend(); }
        public void close() { n.close(); }
    }

    @Test
    void chainDraftsWhatStepByStepDraftingDrafts() {
        List<int[]> prompts = SpecPrompts.load(2);
        try (Engine engine = SpecPrompts.engine("draft_model", 4)) {
            DrafterFactory drafters = new DrafterFactory(engine.target().config(), engine.draft().orElseThrow(), 8L << 20);
            try (DraftNetwork chain = drafters.network(DraftNetworkKind.DRAFT_MODEL);
                 DraftNetwork steps = new StepByStep(drafters.network(DraftNetworkKind.DRAFT_MODEL))) {
                assertInstanceOf(RunnerDraftNetwork.class, chain);
                int[] a = {chain.open(256), chain.open(256)}, b = {steps.open(256), steps.open(256)};
                int[] p0 = Arrays.copyOf(prompts.get(0), 40), p1 = Arrays.copyOf(prompts.get(1), 33);
                // round 1: the prompts; round 2: two accepted tokens each; round 3: one each (single-token chunks)
                int[][] expected = round(steps, b, p0, p1, 4);
                assertArrayEquals(expected, round(chain, a, p0, p1, 4), "prompt round");
                for (int[][] next : new int[][][] {{{p0[5], p0[6]}, {p1[7], p1[8]}}, {{p0[9]}, {p1[10]}}}) {
                    for (int s = 0; s < 2; s++) {
                        // keep the committed entries only, as the proposer does after a verification
                        int keep = steps.length(b[s]) - 3;
                        steps.truncate(b[s], keep);
                        chain.truncate(a[s], keep);
                    }
                    expected = round(steps, b, next[0], next[1], 3);
                    assertArrayEquals(expected, round(chain, a, next[0], next[1], 3), "round of " + next[0].length);
                    for (int s = 0; s < 2; s++) assertEquals(steps.length(b[s]), chain.length(a[s]), "entries cached");
                }
                assertThrows(IllegalArgumentException.class,
                        () -> chain.forwardGreedy(List.of(new DraftChunk(a[0], new int[] {1}, null)), 0));
            }
        }
    }

    private static int[][] round(DraftNetwork net, int[] seqs, int[] t0, int[] t1, int k) {
        return net.forwardGreedy(List.of(new DraftChunk(seqs[0], t0, null), new DraftChunk(seqs[1], t1, null)), k);
    }
}
