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
 * ours is fp32 math over the FP8 target). The sample is {@value #DEFAULT_PROMPTS} prompts on CI (about 70 s of CPU;
 * {@code -Dmoespec.spec.evalPrompts=64} for all, about 10 minutes); the tolerance is relative, see {@link #tolerance}.
 */
class AcceptanceVersusEvalTest {
    static final int DEFAULT_PROMPTS = 8;
    private static final int PROMPTS = Integer.getInteger("moespec.spec.evalPrompts", DEFAULT_PROMPTS);
    /**
     * Relative tolerance, set from measurements (fp32 CPU, prompts as stored). On all 64 prompts every neural method
     * was within 4.0% of eval.json (draft_model +2.3..+4.0%, eagle -1.3..+0.8%, mtp -0.6..+0.7%, medusa 0..+0.7%),
     * so the full run asserts the 5%. On the CI slice of 8 prompts the worst deviation was +10.5% (medusa
     * k=3): 15% there. ngram is not compared with eval.json here but with its rule, below.
     */
    private static double tolerance(String method) {
        return PROMPTS >= 64 ? 0.05 : 0.15;
    }

    @ParameterizedTest(name = "{0} k={1}")
    @CsvSource({"draft_model,1", "draft_model,2", "draft_model,3", "draft_model,4", "eagle,1", "eagle,2", "eagle,3",
            "eagle,4", "mtp,1", "mtp,2", "mtp,3", "mtp,4", "medusa,1", "medusa,2", "medusa,3"})
    void meanAcceptedMatchesEvalJson(String method, int k) {
        List<int[]> prompts = SpecPrompts.load(PROMPTS);
        SamplingParams greedy = new SamplingParams(0, 0, 1, OptionalLong.empty(), 128, true);
        try (Engine engine = SpecPrompts.engine(method, k); SpecDecodeSession session = SpecDecodeSession.open(engine, 64L << 20)) {
            SpecMetrics m = session.generator(SpecPrompts.BOS).generate(prompts, greedy, BatchListener.NONE).metrics();
            double expected = SpecPrompts.evalMeanAccepted(method, k);
            System.out.printf("ACCEPT %s k=%d prompts=%d: mean accepted %.3f vs eval.json %.3f (%+.1f%%) in %.1f s%n", method, k,
                    PROMPTS, m.meanAcceptedPerStep(), expected, 100 * (m.meanAcceptedPerStep() / expected - 1), m.totalSeconds());
            assertEquals(expected, m.meanAcceptedPerStep(), expected * tolerance(method), method + " k=" + k);
        }
    }

    /**
     * ngram: the accepted drafts and verification steps equal, exactly, FORMAT.md §5.5's rule replayed over plain
     * greedy outputs ({@link NgramRule}). Not compared with eval.json: on all 64 prompts at k=4 it accepts 0.698
     * (fp32 math), 0.655 (cpu_reference's FP8 W8A8) and 0.706 (flashinfer_trtllm's FP8 W8A8 on the H100) against
     * eval.json's 0.818, which was measured on the bf16 target the demo family does not ship. Prompt lookup depends on
     * the exact token sequences a target writes (the fp32 and FP8 CPU targets write the same 128 tokens for only 17 of
     * the 64 prompts); the neural drafters' acceptance does not, and it is within 5% on every target.
     */
    @ParameterizedTest(name = "ngram k={0}")
    @CsvSource({"2", "4"})
    void ngramAcceptsWhatItsRuleAccepts(int k) {
        List<int[]> prompts = SpecPrompts.load(PROMPTS);
        int lookahead = k - 1;  // a sequence's last verification compares drafts with the target's next tokens too
        List<int[]> plain;
        try (Engine engine = SpecPrompts.engine(null, 0); SpecDecodeSession session = SpecDecodeSession.open(engine, 64L << 20)) {
            plain = session.generator(SpecPrompts.BOS).generate(prompts,
                    new SamplingParams(0, 0, 1, OptionalLong.empty(), 128 + lookahead, true), BatchListener.NONE).tokens();
        }
        SamplingParams greedy = new SamplingParams(0, 0, 1, OptionalLong.empty(), 128, true);
        try (Engine engine = SpecPrompts.engine("ngram", k); SpecDecodeSession session = SpecDecodeSession.open(engine, 64L << 20)) {
            SpecMetrics m = session.generator(SpecPrompts.BOS).generate(prompts, greedy, BatchListener.NONE).metrics();
            long accepted = 0, steps = 0;
            for (int i = 0; i < prompts.size(); i++) {
                long[] r = NgramRule.replay(prompts.get(i), plain.get(i), 128, k, 2, 5);
                accepted += r[0];
                steps += r[1];
            }
            System.out.printf("ACCEPT ngram k=%d prompts=%d: mean accepted %.3f, the rule's replay %d / %d%n", k, PROMPTS,
                    m.meanAcceptedPerStep(), accepted, steps);
            assertEquals(steps, m.verifySteps(), "verification steps");
            assertEquals(accepted, m.acceptedTokens(), "accepted drafts");
        }
    }
}
