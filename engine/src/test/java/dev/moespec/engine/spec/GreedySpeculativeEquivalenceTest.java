package dev.moespec.engine.spec;

import dev.moespec.engine.sampling.SamplingParams;
import dev.moespec.engine.wiring.Engine;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.util.List;
import java.util.OptionalLong;
import java.util.stream.IntStream;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Greedy speculative decoding must reproduce plain greedy decoding token for token, for every proposer and k,
 * with the prompts batched together (so rollback of one sequence never disturbs another). CI runs 2 prompts x 32
 * new tokens; {@code -Dmoespec.spec.full=true} runs all 64 prompts x 128 tokens.
 */
class GreedySpeculativeEquivalenceTest {
    private static final boolean FULL = Boolean.getBoolean("moespec.spec.full");
    private static final int PROMPTS = FULL ? 64 : 2;
    private static final int NEW_TOKENS = FULL ? 128 : 32;
    private static final SamplingParams GREEDY = new SamplingParams(0, 0, 1, OptionalLong.empty(), NEW_TOKENS, true);

    private static List<int[]> prompts;
    private static List<int[]> plain;

    @BeforeAll
    static void plainGreedy() {
        prompts = SpecPrompts.load(PROMPTS);
        try (Engine engine = SpecPrompts.engine(null, 0); SpecDecodeSession session = SpecDecodeSession.open(engine, SpecPrompts.KV)) {
            // one sequence at a time: the reference is unbatched, non-speculative decoding
            plain = prompts.stream().map(p -> session.generator(SpecPrompts.BOS)
                    .generate(List.of(p), GREEDY, BatchListener.NONE).tokens(0)).toList();
        }
    }

    static Stream<Arguments> methodsAndK() {
        return Stream.of("draft_model", "eagle", "mtp", "medusa", "ngram")
                .flatMap(m -> IntStream.rangeClosed(1, m.equals("medusa") ? 3 : 4).mapToObj(k -> Arguments.of(m, k)));
    }

    @ParameterizedTest(name = "{0} k={1}")
    @MethodSource("methodsAndK")
    void greedySpeculativeOutputEqualsPlainGreedy(String method, int k) {
        try (Engine engine = SpecPrompts.engine(method, k); SpecDecodeSession session = SpecDecodeSession.open(engine, SpecPrompts.KV)) {
            SpecGenerationResult r = session.generator(SpecPrompts.BOS).generate(prompts, GREEDY, BatchListener.NONE);
            for (int i = 0; i < prompts.size(); i++) {
                assertArrayEquals(plain.get(i), r.tokens(i), method + " k=" + k + " prompt " + i);
            }
            SpecMetrics m = r.metrics();
            assertEquals(method, m.method());
            assertEquals((long) NEW_TOKENS * prompts.size(), m.newTokens());
            assertTrue(m.drafts() > 0, "the proposer drafted");
            // every pass commits at least one token per active sequence, so speculation can only save passes
            assertTrue(m.targetPasses() <= NEW_TOKENS - 1, "passes " + m.targetPasses());
            assertEquals(m.acceptedTokens() / (double) m.draftTokens(), m.acceptanceRate(), 1e-12);
            if (!method.equals("ngram")) {
                assertTrue(m.meanAcceptedPerStep() > 0.3, method + " k=" + k + " accepts too little: " + m.meanAcceptedPerStep());
            }
            System.out.printf("%s k=%d: mean accepted %.3f, passes %d%n", method, k, m.meanAcceptedPerStep(), m.targetPasses());
        }
    }

    @Test
    void medusaRefusesMoreTokensThanItHasHeads() {
        try (Engine engine = SpecPrompts.engine("medusa", 4)) {
            var e = assertThrows(IllegalArgumentException.class, () -> SpecDecodeSession.open(engine, SpecPrompts.KV));
            assertEquals("medusa has 3 heads, so it drafts at most 3 tokens per step; set \"num_speculative_tokens\" to"
                    + " at most 3 (got 4)", e.getMessage());
        }
    }
}
