package dev.moespec.api.config;

import org.junit.jupiter.api.Test;

import java.util.Optional;
import java.util.OptionalInt;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Parsing of the --speculative-config JSON text, before any rule against a target. */
class SpeculativeSpecTest {

    @Test
    void readsEveryKey() {
        SpeculativeSpec s = SpeculativeSpec.parse("""
                {"method": "ngram", "model": "ngram", "num_speculative_tokens": 3, "moe_backend": "triton",
                 "quantization": "fp8", "draft_tensor_parallel_size": 1, "max_model_len": 512,
                 "prompt_lookup_min": 2, "prompt_lookup_max": 4, "sibling_drafts": 2}""");
        assertEquals(new SpeculativeSpec(Optional.of("ngram"), Optional.of("ngram"), OptionalInt.of(3),
                Optional.of("triton"), Optional.of("fp8"), OptionalInt.of(1), OptionalInt.empty(),
                OptionalInt.of(512), OptionalInt.of(2), OptionalInt.of(4), OptionalInt.of(2)), s);
    }

    @Test
    void unknownKeyIsNamedWithTheSortedValidKeysAndAGuess() {
        var e = assertThrows(ConfigException.class,
                () -> SpeculativeSpec.parse("{\"moe_backendd\": \"triton\"}"));
        assertEquals("Unknown key 'moe_backendd' in --speculative-config (did you mean 'moe_backend'?); valid keys:"
                + " [draft_tensor_parallel_size, max_model_len, method, model, moe_backend, num_speculative_tokens,"
                + " prompt_lookup_max, prompt_lookup_min, quantization, sibling_drafts]", e.getMessage());
    }

    @Test
    void unknownKeyWithoutACloseMatchHasNoGuess() {
        var e = assertThrows(ConfigException.class, () -> SpeculativeSpec.parse("{\"enforce_eager\": true}"));
        assertTrue(e.getMessage().startsWith("Unknown key 'enforce_eager' in --speculative-config; valid keys: ["),
                e.getMessage());
    }

    @Test
    void malformedJsonGivesJacksonsLocation() {
        var e = assertThrows(ConfigException.class,
                () -> SpeculativeSpec.parse("{\"method\": \"ngram\" \"num_speculative_tokens\": 3}"));
        assertTrue(e.getMessage().startsWith("Malformed --speculative-config JSON at line 1, column 20: Unexpected"
                + " character ('\"' (code 34)): was expecting comma to separate Object entries"), e.getMessage());
        assertTrue(e.getMessage().endsWith("; pass a JSON object such as"
                + " '{\"method\": \"ngram\", \"num_speculative_tokens\": 3}'"), e.getMessage());
    }

    @Test
    void aJsonArrayIsNotAConfig() {
        var e = assertThrows(ConfigException.class, () -> SpeculativeSpec.parse("[1, 2]"));
        assertEquals("Malformed --speculative-config JSON: expected a JSON object, got a JSON array; pass a JSON"
                + " object such as '{\"method\": \"ngram\", \"num_speculative_tokens\": 3}'", e.getMessage());
    }

    @Test
    void duplicateKeysAreRejected() {
        var e = assertThrows(ConfigException.class,
                () -> SpeculativeSpec.parse("{\"method\": \"ngram\", \"method\": \"mtp\"}"));
        assertTrue(e.getMessage().contains("Duplicate field 'method'"), e.getMessage());
    }

    @Test
    void wrongValueTypeNamesTheKeyAndExpectedType() {
        var e = assertThrows(ConfigException.class,
                () -> SpeculativeSpec.parse("{\"num_speculative_tokens\": \"3\"}"));
        assertEquals("'num_speculative_tokens' in --speculative-config must be an integer, got \"3\" (string);"
                + " fix the value", e.getMessage());
        var e2 = assertThrows(ConfigException.class, () -> SpeculativeSpec.parse("{\"moe_backend\": 1}"));
        assertEquals("'moe_backend' in --speculative-config must be a string, got 1 (integer); fix the value",
                e2.getMessage());
    }

    @Test
    void moeBackendIsNormalisedAndNullMeansInherit() {
        assertEquals(Optional.of("flashinfer_trtllm"),
                SpeculativeSpec.parse("{\"moe_backend\": \"FlashInfer-TRTLLM\"}").moeBackend());
        assertEquals(Optional.empty(), SpeculativeSpec.parse("{\"moe_backend\": null}").moeBackend());
        assertEquals(Optional.empty(), SpeculativeSpec.parse("{}").moeBackend());
    }

    @Test
    void moeBackendThatIsNoNameIsRejected() {
        var e = assertThrows(ConfigException.class, () -> SpeculativeSpec.parse("{\"moe_backend\": \"flash infer\"}"));
        assertEquals("moe_backend 'flash infer' is not a backend name; names are lower_snake (letters, digits, '_'),"
                + " e.g. auto, triton, flashinfer_trtllm", e.getMessage());
    }

    @Test
    void methodIsNormalised() {
        assertEquals(Optional.of("draft_model"), SpeculativeSpec.parse("{\"method\": \"Draft-Model\"}").method());
    }
}
