package dev.moespec.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code moespec generate --speculative-config} end to end on the CPU: every built-in method reproduces the golden
 * greedy continuation of the FP8 target, prints its acceptance and each role's MoE backend, and writes the same
 * numbers as JSON.
 */
class GenerateSpeculativeTest {

    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiter = '|', textBlock = """
            ngram       | {"method":"ngram","num_speculative_tokens":3,"prompt_lookup_min":2}      | none (
            draft_model | {"method":"draft_model","model":"demo-draft","num_speculative_tokens":3} | cpu_reference
            eagle       | {"method":"eagle","model":"demo-eagle","num_speculative_tokens":3}       | none (
            mtp         | {"method":"mtp","num_speculative_tokens":2,"moe_backend":"cpu_reference"} | cpu_reference
            medusa      | {"method":"medusa","model":"demo-medusa","num_speculative_tokens":3}     | none (
            """)
    void speculativeGreedyReproducesGoldenAndReportsMetrics(String method, String config, String draftBackend,
                                                            @TempDir Path tmp) throws Exception {
        JsonNode golden = new ObjectMapper().readTree(Files.readString(BundledModels.demoTarget().resolveSibling("golden.json")));
        String expected = golden.path("prompts").get(0).path("target_fp8").path("text").asText();
        Path json = tmp.resolve("metrics.json");
        StringWriter out = new StringWriter(), err = new StringWriter();
        int exit = Moespec.run(new PrintWriter(out, true), new PrintWriter(err, true), "generate", "--device", "cpu",
                "--max-tokens", "48", "--ignore-eos", "--speculative-config", config, "--metrics-json", json.toString());
        assertEquals(0, exit, err.toString());
        String text = out.toString();
        assertTrue(text.startsWith(GenerateCommand.DEFAULT_PROMPT + expected + "\n"), text);
        assertTrue(text.contains("| speculative: " + method + " k="), text);
        assertTrue(text.contains("MoE backend: target=cpu_reference draft=" + draftBackend), text);
        assertTrue(text.matches("(?s).*acceptance rate [0-9.]+ \\| mean acceptance length [0-9.]+ .*per position \\[.*"), text);
        JsonNode m = new ObjectMapper().readTree(Files.readString(json));
        assertEquals(method, m.path("method").asText());
        assertEquals(48, m.path("new_tokens").asInt());
        assertTrue(m.path("drafts").asInt() > 0, m.toString());
        assertEquals(m.path("k").asInt(), m.path("per_position_acceptance").size());
        assertEquals(m.path("accepted_tokens").asDouble() / m.path("draft_tokens").asDouble(),
                m.path("acceptance_rate").asDouble(), 1e-9);
        assertTrue(m.path("tokens_per_second").asDouble() > 0);
        assertEquals("cpu_reference", m.path("moe_backends").path("target").asText());
        assertEquals(0, m.path("launches").size(), "no kernel launches on the CPU: " + m.path("launches"));
    }
}
