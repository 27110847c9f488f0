package dev.moespec.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.moespec.cuda.Cuda;
import dev.moespec.engine.cuda.CudaRunners;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** {@code moespec generate} end to end, in-process, on the bundled demo target. */
class GenerateCommandTest {
    private record Run(int exit, String out, String err) {}

    private static Run generate(String... args) {
        StringWriter out = new StringWriter(), err = new StringWriter();
        String[] full = new String[args.length + 1];
        full[0] = "generate";
        System.arraycopy(args, 0, full, 1, args.length);
        int exit = Moespec.run(new PrintWriter(out, true), new PrintWriter(err, true), full);
        return new Run(exit, out.toString(), err.toString());
    }

    @Test
    void greedyOnTheDemoTargetReproducesTheGoldenContinuation() throws Exception {
        JsonNode p0 = new ObjectMapper().readTree(Files.readString(BundledModels.demoTarget().resolveSibling("golden.json")))
                .path("prompts").get(0);
        assertEquals(GenerateCommand.DEFAULT_PROMPT, p0.path("text").asText());
        Run r = generate("--max-tokens", "48", "--ignore-eos", "--device", "cpu");
        assertEquals(0, r.exit, r.err);
        assertTrue(r.out.startsWith(GenerateCommand.DEFAULT_PROMPT + p0.path("target_fp8").path("text").asText() + "\n"), r.out);
        assertTrue(r.out.matches("(?s).*--- 19 prompt \\+ 48 new tokens \\(max_tokens\\) on cpu \\| [0-9.]+ tokens/s .*"
                + "time to first token [0-9.]+ ms \\| MoE backend: target=cpu_reference\\n"), r.out);
    }

    @Test
    void autoRunsOnTheGpuWhenTheCudaRunnerCanElseOnTheCpu() {
        Run r = generate("--max-tokens", "2", "--prompt", "x", "--temperature", "0.7", "--top-k", "5", "--top-p", "0.9", "--seed", "3");
        assertEquals(0, r.exit, r.err);
        boolean gpu = Cuda.detectDevice().isCuda() && CudaRunners.unavailableReason().isEmpty();
        if (gpu) assertTrue(r.out.contains(" on " + Cuda.detectDevice().name() + " | "), r.out);
        assertEquals(!gpu, r.out.contains(" on cpu | "), r.out);
        // a GPU that is there but cannot be used is named, with the reason, never silently skipped
        assertEquals(Cuda.detectDevice().isCuda() && !gpu, r.err.contains("but running on CPU"), r.err);
    }

    @Test
    void cudaIsRefusedWithTheReasonWhereTheCudaRunnerCannotRun() {
        org.junit.jupiter.api.Assumptions.assumeTrue(CudaRunners.unavailableReason().isPresent(), "the CUDA runner can run here");
        Run r = generate("--device", "cuda", "--max-tokens", "2");
        assertEquals(2, r.exit, r.out + r.err);
        assertTrue(r.err.startsWith("moespec: --device cuda: the CUDA forward pass cannot run here: "
                + CudaRunners.unavailableReason().get()), r.err);
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiter = '|', textBlock = """
            negative temperature | --temperature       |-1                              | temperature must be
            top-p zero           | --top-p             |0                               | top_p must be in (0, 1]
            top-k below -1       | --top-k             |-3                              | top_k must be
            zero max tokens      | --max-tokens        |0                               | max_tokens must be >= 1
            unknown device       | --device            |tpu                             | unknown --device 'tpu'
            medusa k above heads | --speculative-config|{"method":"medusa","model":"demo-medusa","num_speculative_tokens":4}| at most 3
            bad speculative JSON | --speculative-config|{"method":"mtp",                | Malformed --speculative-config JSON
            unknown backend      | --moe-backend       |tritno                          | Did you mean 'triton'?
            missing model        | --model             |/nonexistent/model/dir          | /nonexistent/model/dir
            tiny KV budget       | --kv-cache-memory   |1000                            | --kv-cache-memory
            not a number         | --max-tokens        |many                            | --max-tokens
            """)
    void badInputExitsTwoWithOneActionableLine(String what, String flag, String value, String expected) {
        Run r = generate(flag, value, "--max-tokens".equals(flag) ? "--prompt" : "--max-tokens", "--max-tokens".equals(flag) ? "x" : "2");
        assertEquals(2, r.exit, what + ": " + r.out + r.err);
        assertTrue(r.err.contains(expected), what + ": " + r.err);
        assertTrue(r.err.startsWith("moespec: "), r.err);
    }
}
