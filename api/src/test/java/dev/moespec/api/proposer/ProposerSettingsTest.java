package dev.moespec.api.proposer;

import dev.moespec.api.config.DraftConfigStrategy;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;

class ProposerSettingsTest {

    @ParameterizedTest
    @CsvSource(delimiter = '|', textBlock = """
            0 | 1 | 5 | 100 | 10 | num_speculative_tokens must be >= 1, got 0; set "num_speculative_tokens" in --speculative-config
            3 | 0 | 5 | 100 | 10 | prompt_lookup_min must be >= 1, got 0
            3 | 6 | 5 | 100 | 10 | prompt_lookup_min=6 must be <= prompt_lookup_max=5
            3 | 1 | 5 | 0   | 10 | max_model_len must be >= 1, got 0
            3 | 1 | 5 | 100 | 0  | vocab_size must be >= 1, got 0; it comes from the target model's config.json
            """)
    void rejectsOutOfRangeSettingsNamingTheKey(int k, int min, int max, int maxModelLen, int vocab, String message) {
        var e = assertThrows(IllegalArgumentException.class, () -> new ProposerSettings(k, min, max, maxModelLen, vocab));
        assertEquals(message, e.getMessage());
    }

    @Test
    void acceptsEqualLookupBoundsLikeVllmsDefault() {
        var settings = new ProposerSettings(4, 5, 5, 2048, 256);
        assertEquals(5, settings.promptLookupMin());
        assertEquals(5, settings.promptLookupMax());
        assertSame(settings, settings.settings());
    }

    /** A richer engine context only delegates settings(); every accessor then reads the validated record. */
    @Test
    void aContextImplementationGetsTheAccessorsFromItsSettings() {
        ProposerContext context = () -> new ProposerSettings(3, 2, 4, 512, 128);
        assertEquals(3, context.numSpeculativeTokens());
        assertEquals(2, context.promptLookupMin());
        assertEquals(4, context.promptLookupMax());
        assertEquals(512, context.maxModelLen());
        assertEquals(128, context.vocabSize());
    }

    @Test
    void providerDefaultsSuitAModelFreeProposer() {
        ProposerProvider provider = new ProposerProvider() {
            @Override
            public String method() {
                return "lookup";
            }

            @Override
            public Proposer create(ProposerContext context) {
                return request -> Proposal.tokensOnly(request.tokenHistories().stream().map(h -> new int[0]).toList());
            }
        };
        assertEquals("lookup", provider.description());
        assertEquals(DraftConfigStrategy.FOR_SPEC_DECODE, provider.draftConfigStrategy());
        assertFalse(provider.needsDraftModel());
        try (Proposer proposer = provider.create(new ProposerSettings(1, 1, 1, 8, 8))) {
            assertEquals(0, proposer.propose(ProposalRequest.of(new int[] {1, 2})).totalDraftTokens());
        }
    }
}
