package dev.moespec.engine.spec;

import dev.moespec.engine.sampling.SamplingParams;
import dev.moespec.engine.wiring.Engine;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.util.List;
import java.util.OptionalLong;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * Mean accepted tokens per verification step (eval.json's {@code mean_accepted}) on the bundled benchmark prompts,
 * 128 new tokens each as eval.json, compared with eval.json's PyTorch figures (bf16 math on a similar held-out set;
 * ours is fp32 math over the FP8 target). The sample is {@value #DEFAULT_PROMPTS} prompts on CI
 * ({@code -Dmoespec.spec.evalPrompts=64} for all); the tolerance is relative and stated per run size below.
 */
class AcceptanceVersusEvalTest {
    static final int DEFAULT_PROMPTS = 8;
    private static final int PROMPTS = Integer.getInteger("moespec.spec.evalPrompts", DEFAULT_PROMPTS);
    /**
     * Relative tolerance. Measured on 16 prompts the per-config deviation from eval.json is listed in
     * engine/README.md; the prompt sample differs from eval's (and 16 prompts is a quarter of it), so 16 prompts get
     * 15% and the full 64 get the 5%... see the README for the measured numbers.
     */
    private static final double TOLERANCE = PROMPTS >= 64 ? 0.05 : 0.15;

    @ParameterizedTest(name = "{0} k={1}")
    @CsvSource({"draft_model,1", "draft_model,2", "draft_model,3", "draft_model,4", "eagle,1", "eagle,2", "eagle,3",
            "eagle,4", "mtp,1", "mtp,2", "mtp,3", "mtp,4", "medusa,1", "medusa,2", "medusa,3", "ngram,4"})
    void meanAcceptedMatchesEvalJson(String method, int k) {
        List<int[]> prompts = SpecPrompts.load(PROMPTS);
        SamplingParams greedy = new SamplingParams(0, 0, 1, OptionalLong.empty(), 128, true);
        try (Engine engine = SpecPrompts.engine(method, k); SpecDecodeSession session = SpecDecodeSession.open(engine, 64L << 20)) {
            SpecMetrics m = session.generator(SpecPrompts.BOS).generate(prompts, greedy, BatchListener.NONE).metrics();
            double expected = SpecPrompts.evalMeanAccepted(method, k);
            System.out.printf("ACCEPT %s k=%d prompts=%d: mean accepted %.3f vs eval.json %.3f (%+.1f%%) in %.1f s%n", method, k,
                    PROMPTS, m.meanAcceptedPerStep(), expected, 100 * (m.meanAcceptedPerStep() / expected - 1), m.totalSeconds());
            assertEquals(expected, m.meanAcceptedPerStep(), expected * TOLERANCE, method + " k=" + k);
        }
    }
}
