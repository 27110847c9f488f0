package dev.moespec.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.moespec.engine.cuda.CudaRunners;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The seed scenario end to end on the GPU: {@code moespec generate --moe-backend flashinfer_trtllm
 * --speculative-config '{"method":"mtp","num_speculative_tokens":2,"moe_backend":"triton"}'}: its printed launches line (and {@code --metrics-json}) shows the target ran
 * flashinfer_trtllm and not triton, the MTP draft triton and not flashinfer_trtllm.
 */
@Tag("gpu")
class GenerateSpeculativeGpuTest {
    private static final Pattern LAUNCHES = Pattern.compile("(?m)^ {4}launches {2}target: (.*) \\| draft: (.*)$");

    @Test
    void seedScenarioCountsEachRolesBackendLaunches(@TempDir Path tmp) throws Exception {
        Assumptions.assumeTrue(CudaRunners.unavailableReason().isEmpty(),
                () -> "CUDA runner unavailable: " + CudaRunners.unavailableReason().orElse(""));
        Path json = tmp.resolve("metrics.json");
        StringWriter out = new StringWriter(), err = new StringWriter();
        int exit = Moespec.run(new PrintWriter(out, true), new PrintWriter(err, true), "generate", "--device", "cuda",
                "--moe-backend", "flashinfer_trtllm", "--speculative-config",
                "{\"method\":\"mtp\",\"num_speculative_tokens\":2,\"moe_backend\":\"triton\"}", "--max-tokens", "64",
                "--metrics-json", json.toString());
        assertEquals(0, exit, err.toString());
        String text = out.toString();
        System.out.println(text);
        assertTrue(text.contains("MoE backend: target=flashinfer_trtllm draft=triton"), text);
        Matcher m = LAUNCHES.matcher(text);
        assertTrue(m.find(), "no launches line in:\n" + text);
        assertTrue(m.group(1).matches(".*moespec-backend-flashinfer-trtllm [1-9][0-9]*.*"), m.group(1));
        assertFalse(m.group(1).contains("moespec-backend-triton"), m.group(1));
        assertTrue(m.group(2).matches(".*moespec-backend-triton [1-9][0-9]*.*"), m.group(2));
        assertFalse(m.group(2).contains("flashinfer"), m.group(2));
        JsonNode launches = new ObjectMapper().readTree(Files.readString(json)).path("launches");
        assertTrue(launches.path("target").path("moespec-backend-flashinfer-trtllm").asLong() > 0, launches.toString());
        assertEquals(0, launches.path("target").path("moespec-backend-triton").asLong(), launches.toString());
        assertTrue(launches.path("draft").path("moespec-backend-triton").asLong() > 0, launches.toString());
        assertEquals(0, launches.path("draft").path("moespec-backend-flashinfer-trtllm").asLong(), launches.toString());
    }
}
