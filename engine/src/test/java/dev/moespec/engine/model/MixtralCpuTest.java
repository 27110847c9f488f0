package dev.moespec.engine.model;

import dev.moespec.api.config.ModelConfig;
import dev.moespec.engine.loader.CheckpointLayout;
import dev.moespec.engine.loader.MoeDecoderLayout;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Mixtral as a second architecture: the tiny synthetic checkpoint of {@link SyntheticMixtral} (Hugging Face Mixtral
 * naming, no q/k norms, BF16) is loaded through the normal loader and the CPU model's logits are checked against its
 * independent fp64 forward, plus KV-cache decode against full recompute.
 */
class MixtralCpuTest {
    static final int EXPERTS = SyntheticMixtral.EXPERTS, INTER = SyntheticMixtral.INTER, VOCAB = SyntheticMixtral.VOCAB;
    /**
     * The model is fp32 throughout against fp64 here; over two layers of width 32 its rounding stays orders of
     * magnitude below this, while a wrong routing, norm or RoPE moves logits by > 1e-2.
     */
    static final double LOGIT_TOL = 1e-4;

    @TempDir
    static Path dir;
    static Map<String, double[]> weights;

    @BeforeAll
    static void writeCheckpoint() throws IOException {
        weights = SyntheticMixtral.write(dir);
    }

    @Test
    void configAndLayoutAreMixtral() {
        ModelConfig c = ModelConfig.load(dir);
        assertEquals("MixtralForCausalLM", c.architecture());
        assertEquals(EXPERTS, c.numExperts());
        assertEquals(INTER, c.moeIntermediateSize(), "Mixtral's intermediate_size is per expert");
        assertTrue(c.normTopkProb(), "Mixtral renormalises its top-k");
        assertEquals(MoeDecoderLayout.Naming.MIXTRAL, ((MoeDecoderLayout) CheckpointLayout.of(c)).naming());
    }

    @Test
    void prefillLogitsMatchFp64Reference() {
        int[] prompt = {3, 17, 42, 8, 8, 29, 1, 49, 0, 12};
        double[][] ref = new SyntheticMixtral.Fp64Forward(weights).forward(prompt);
        try (CpuMoeModel m = Models.exact(dir)) {
            int s = m.open(prompt.length);
            StepOutput out = m.step(List.of(new SequenceChunk(s, prompt, true)));
            double worst = 0;
            for (int t = 0; t < prompt.length; t++) {
                float[] got = out.logits(0, t);
                for (int v = 0; v < VOCAB; v++) worst = Math.max(worst, Math.abs(got[v] - ref[t][v]));
                assertEquals(argmax(ref[t]), Golden.argmax(got), "greedy token at position " + t);
            }
            assertTrue(worst <= LOGIT_TOL, "max |logit - fp64 reference| = " + worst + " > " + LOGIT_TOL);
        }
    }

    @Test
    void greedyDecodeWithKvCacheEqualsFullRecompute() {
        int[] prompt = {5, 33, 2, 19};
        int steps = 12;
        try (CpuMoeModel m = Models.exact(dir)) {
            int s = m.open(prompt.length + steps);
            float[] logits = m.step(List.of(SequenceChunk.last(s, prompt))).lastLogits(0);
            int[] cached = new int[steps];
            int[] seq = java.util.Arrays.copyOf(prompt, prompt.length + steps);
            for (int t = 0; t < steps; t++) {
                cached[t] = Golden.argmax(logits);
                seq[prompt.length + t] = cached[t];
                // full recompute of the same prefix in a fresh sequence
                int fresh = m.open(prompt.length + t);
                float[] full = m.step(List.of(SequenceChunk.last(fresh, java.util.Arrays.copyOf(seq, prompt.length + t)))).lastLogits(0);
                m.release(fresh);
                for (int v = 0; v < VOCAB; v++) {
                    assertEquals(full[v], logits[v], 1e-5, "step " + t + " logit " + v + ": cached vs recomputed");
                }
                logits = m.step(List.of(SequenceChunk.last(s, cached[t]))).lastLogits(0);
            }
            // and the same greedy tokens come out of the independent fp64 forward
            double[][] ref = new SyntheticMixtral.Fp64Forward(weights).forward(java.util.Arrays.copyOf(seq, seq.length - 1));
            int[] expected = new int[steps];
            for (int t = 0; t < steps; t++) expected[t] = argmax(ref[prompt.length - 1 + t]);
            assertArrayEquals(expected, cached);
        }
    }

    @Test
    void referenceWithoutTopKRenormalisationIsFarOutsideTheTolerance() {
        int[] prompt = {3, 17, 42, 8, 8, 29, 1, 49, 0, 12};
        double[][] wrong = new SyntheticMixtral.Fp64Forward(weights, false).forward(prompt);
        try (CpuMoeModel m = Models.exact(dir)) {
            int s = m.open(prompt.length);
            float[] got = m.step(List.of(new SequenceChunk(s, prompt, true))).logits(0, prompt.length - 1);
            double worst = 0;
            for (int v = 0; v < VOCAB; v++) worst = Math.max(worst, Math.abs(got[v] - wrong[prompt.length - 1][v]));
            assertTrue(worst > 100 * LOGIT_TOL, "routing without renormalisation differs by only " + worst);
        }
    }

    static int argmax(double[] v) {
        return SyntheticMixtral.argmax(v);
    }
}
