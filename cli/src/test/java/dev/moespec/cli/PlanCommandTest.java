package dev.moespec.cli;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.io.PrintWriter;
import java.io.StringWriter;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** {@code moespec plan} end to end, in-process, on the bundled demo models. */
class PlanCommandTest {
    private static final String UPSTREAM = "{\"method\":\"mtp\",\"num_speculative_tokens\":1,\"moe_backend\":\"triton\"}";

    private record Run(int exit, String out, String err) {}

    private static Run plan(String... args) {
        StringWriter out = new StringWriter(), err = new StringWriter();
        String[] full = new String[args.length + 1];
        full[0] = "plan";
        System.arraycopy(args, 0, full, 1, args.length);
        int exit = Moespec.run(new PrintWriter(out, true), new PrintWriter(err, true), full);
        return new Run(exit, out.toString(), err.toString());
    }

    @Test
    void defaultPlansTheBundledDemoTargetOnTheCpuReference() {
        Run r = plan("--assume-device", "cpu");
        assertEquals(0, r.exit, r.err);
        assertTrue(r.out.contains("[target] demo-target  Qwen3MoeForCausalLM  fp8_block_128"), r.out);
        assertTrue(r.out.matches("(?s).*target\\s*:\\s*cpu_reference\\s+\\[AUTO].*"), r.out);
        assertFalse(r.out.contains("[draft]"), r.out);
    }

    @Test
    void upstreamExampleRunsTheTargetOnFlashinferAndTheMtpDraftOnTriton() {
        Run r = plan("--moe-backend", "flashinfer_trtllm", "--speculative-config", UPSTREAM, "--assume-device", "h100");
        assertEquals(0, r.exit, r.err);
        assertTrue(r.out.matches("(?s).*target\\s*:\\s*flashinfer_trtllm\\s+\\[PINNED].*"), r.out);
        assertTrue(r.out.matches("(?s).*draft\\s*:\\s*triton\\s+\\[PINNED].*"), r.out);
        assertTrue(r.out.contains("[draft] demo-mtp"), r.out);
        assertTrue(r.out.contains("bf16"), r.out);
        assertTrue(r.out.matches("(?s).*kernel\\s+both\\s+flashinfer_trtllm\\s+ready.*"), r.out);
        assertTrue(r.out.matches("(?s).*kernel\\s+both\\s+triton\\s+ready.*"), r.out);
    }

    @Test
    void inheritedBackendThatCannotRunTheDraftFallsBackAndSaysWhy() {
        Run r = plan("--moe-backend", "flashinfer_trtllm", "--speculative-config",
                "{\"method\":\"mtp\",\"num_speculative_tokens\":1}", "--assume-device", "h100");
        assertEquals(0, r.exit, r.err);
        assertTrue(r.out.matches("(?s).*draft\\s*:\\s*triton\\s+\\[FALLBACK].*"), r.out);
        assertTrue(r.out.contains("inherited 'flashinfer_trtllm'"), r.out);
    }

    @Test
    void jsonHasBothRoles() throws Exception {
        Run r = plan("--moe-backend", "flashinfer_trtllm", "--speculative-config", UPSTREAM, "--assume-device", "h100", "--json");
        assertEquals(0, r.exit, r.err);
        JsonNode plan = PlanJson.mapper().readTree(r.out);
        assertEquals("target", plan.at("/target/role").asText());
        assertEquals("PINNED", plan.at("/target/moe/mode").asText());
        assertEquals("triton", plan.at("/draft/moe/phases/0/backend").asText(), r.out);
        assertEquals("mtp", plan.at("/proposer/method").asText());
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiter = '|', textBlock = """
            bad JSON            | --speculative-config|{"method":"mtp",                               | Malformed --speculative-config JSON
            unknown key         | --speculative-config|{"method":"ngram","moe_backendd":"triton"}     | Unknown key 'moe_backendd'
            trap field          | --speculative-config|{"method":"ngram","tensor_parallel_size":2}    | Please pass 'draft_tensor_parallel_size' instead
            unknown backend     | --moe-backend       |tritno                                         | Did you mean 'triton'?
            pinned, ineligible  | --moe-backend       |example_nonexistent_backend                    | Unknown MoE backend 'example_nonexistent_backend'
            missing model       | --model             |/nonexistent/model/dir                         | /nonexistent/model/dir
            unknown device      | --assume-device     |v100                                           | Unknown device 'v100'
            """)
    void badInputExitsTwoWithOneActionableLine(String what, String flag, String value, String expected) {
        Run r = flag.equals("--assume-device") ? plan(flag, value) : plan(flag, value, "--assume-device", "h100");
        assertEquals(2, r.exit, what + ": " + r.out + r.err);
        assertTrue(r.err.startsWith("moespec: "), r.err);
        assertTrue(r.err.contains(expected), what + ": " + r.err);
        assertEquals(1, r.err.strip().lines().count(), "one line: " + r.err);
    }

    @Test
    void pinnedBackendThatCannotRunTheTargetNamesTheFix() {
        Run r = plan("--model", BundledModels.find("demo-draft").orElseThrow().toString(),
                "--moe-backend", "flashinfer_trtllm", "--assume-device", "h100");
        assertEquals(2, r.exit, r.out);
        assertTrue(r.err.contains("UNSUPPORTED_QUANTIZATION"), r.err);
        assertTrue(r.err.contains("--moe-backend auto"), r.err);
    }

    @Test
    void unknownOptionIsAParseErrorWithExitTwo() {
        Run r = plan("--moe-backendd", "triton");
        assertEquals(2, r.exit);
        assertTrue(r.err.contains("Unknown option"), r.err);
    }
}
