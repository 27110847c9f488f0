package dev.moespec.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

import java.io.PrintWriter;
import java.io.StringWriter;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** {@code bench spec} on a CI-sized slice: JSON shape, eval.json comparison, greedy match, and the table. */
class BenchSpecCommandTest {

    private static String[] run(String... args) {
        StringWriter out = new StringWriter(), err = new StringWriter();
        CommandLine cl = CliErrors.configure(new CommandLine(new BenchSpecCommand()));
        cl.setOut(new PrintWriter(out, true));
        cl.setErr(new PrintWriter(err, true));
        int exit = cl.execute(args);
        return new String[] {String.valueOf(exit), out.toString(), err.toString()};
    }

    @Test
    void jsonHasOneRowPerMethodAndKWithEvalFiguresAndSpeeds() throws Exception {
        String[] r = run("--json", "--num-prompts", "2", "--max-tokens", "16", "--batch", "2", "--speed-prompts", "1",
                "--methods", "mtp,medusa,ngram", "--k", "2,4");
        assertEquals("0", r[0], r[2]);
        JsonNode report = new ObjectMapper().readTree(r[1]);
        assertEquals(2, report.path("prompts").asInt());
        assertEquals(1, report.path("speed_prompts").asInt(), report.toString());
        assertTrue(report.path("plain_tokens_per_second_batch1").asDouble() > 0);
        assertTrue(report.path("plain_prefill_ms_batch1").asDouble() > 0, report.toString());
        // plain decoding commits one token a pass (the prompt's first comes from its prefill)
        assertEquals(1.0, report.path("plain_step_batch1").path("tokens_per_pass").asDouble(), 1e-9);
        JsonNode rows = report.path("rows");
        // mtp k=2,4; medusa k=2 (3 heads); ngram k=4 only (eval.json's)
        assertEquals(4, rows.size(), rows.toString());
        for (JsonNode row : rows) {
            assertEquals(1.0, row.path("greedy_match_fraction").asDouble(), row.toString());
            assertTrue(row.path("mean_accepted").asDouble() >= 0 && row.path("tokens_per_second_batched").asDouble() > 0);
            assertTrue(row.path("eval_mean_accepted").isNumber(), row.toString());
            assertTrue(row.path("prefill_ms_batch1").asDouble() > 0, row.toString());
            double perPass = row.path("step_batch1").path("tokens_per_pass").asDouble();
            assertTrue(perPass >= 1 && perPass <= row.path("k").asInt() + 1, row.toString());
        }
        assertEquals("mtp", rows.get(0).path("method").asText());
        assertEquals(2, rows.get(0).path("k").asInt());
        assertEquals(1.562, rows.get(0).path("eval_mean_accepted").asDouble(), 1e-3);
        assertEquals("ngram", rows.get(3).path("method").asText());
    }

    @Test
    void tablePrintsAHeaderAndARowPerConfiguration() {
        String[] r = run("--num-prompts", "2", "--max-tokens", "16", "--methods", "eagle", "--k", "1");
        assertEquals("0", r[0], r[2]);
        // batch 1 runs every prompt unless --speed-prompts says fewer
        assertTrue(r[1].contains("(2 prompts one at a time)"), r[1]);
        assertTrue(r[1].contains("plain decoding:"), r[1]);
        assertTrue(r[1].matches("(?s).*\\neagle +1 +[0-9.]+ +0\\.829 .*"), r[1]);
    }

    @Test
    void forkMeasuresEveryConfigurationInAJvmOfItsOwnAndMergesThem() throws Exception {
        String[] r = run("--json", "--fork", "--num-prompts", "1", "--max-tokens", "8", "--methods", "eagle", "--k", "1",
                "--sibling-drafts", "1");
        assertEquals("0", r[0], r[2]);
        JsonNode report = new ObjectMapper().readTree(r[1]);
        assertEquals(1, report.path("prompts").asInt());
        double plain = report.path("plain_tokens_per_second_batch1").asDouble();
        assertTrue(plain > 0, report.toString());
        JsonNode rows = report.path("rows");
        assertEquals(2, rows.size(), rows.toString());
        JsonNode eagle = rows.get(0);
        assertEquals("eagle", eagle.path("method").asText());
        assertEquals(0, eagle.path("sibling_drafts").asInt(), eagle.toString());
        // the tree's child found its configuration (eagle:1:1) among its own: the parent passed --sibling-drafts on
        assertEquals("eagle", rows.get(1).path("method").asText());
        assertEquals(1, rows.get(1).path("sibling_drafts").asInt(), rows.get(1).toString());
        assertEquals(1.0, rows.get(1).path("greedy_match_fraction").asDouble(), rows.get(1).toString());
        assertEquals(1.0, eagle.path("greedy_match_fraction").asDouble(), eagle.toString());
        // the child measured eagle without plain's timing; the parent takes the speed-up against the plain child's
        assertEquals(eagle.path("tokens_per_second_batch1").asDouble() / plain, eagle.path("speedup_batch1").asDouble(), 1e-9);
        assertTrue(eagle.path("speedup_batch1").asDouble() > 0, eagle.toString());
    }

    @Test
    void siblingDraftsAddATreeRowAfterEagleAndMtpChainsOfAtLeastThatK() {
        String[] r = run("--num-prompts", "1", "--max-tokens", "8", "--batch", "1", "--methods", "eagle,medusa", "--k", "2",
                "--sibling-drafts", "1,3");
        assertEquals("0", r[0], r[2]);
        // eagle k=2, eagle k=2 with 1 sibling (3 > k is skipped), medusa k=2 (chains only)
        assertTrue(r[1].matches("(?s).*\\neagle +2 .*\\neagle\\+1sib +2 .*\\nmedusa +2 .*"), r[1]);
        assertFalse(r[1].contains("3sib"), r[1]);
    }

    @Test
    void isRegisteredUnderMoespecBench() {
        StringWriter out = new StringWriter(), err = new StringWriter();
        assertEquals(0, Moespec.run(new PrintWriter(out, true), new PrintWriter(err, true), "bench", "spec", "--help"),
                err.toString());
        assertTrue(out.toString().contains("Usage: moespec bench spec"), out.toString());
    }

    @Test
    void badValuesExitTwoWithAFix() {
        String[] r = run("--k", "0");
        assertEquals("2", r[0]);
        assertTrue(r[2].contains("--k values must be >= 1"), r[2]);
        r = run("--jit-warmup", "-1");
        assertEquals("2", r[0]);
        assertTrue(r[2].contains("--jit-warmup must be >= 0, got -1"), r[2]);
        r = run("--repeats", "0");
        assertEquals("2", r[0]);
        assertTrue(r[2].contains("--repeats must be >= 1"), r[2]);
        r = run("--only", "eagle:9", "--methods", "eagle", "--k", "1");
        assertEquals("2", r[0]);
        assertTrue(r[2].contains("--only eagle:9 is none of this run's configurations: plain, eagle:1"), r[2]);
        r = run("--sibling-drafts", "0");
        assertEquals("2", r[0]);
        assertTrue(r[2].contains("--sibling-drafts values must be >= 1"), r[2]);
        r = run("--speed-prompts", "-1");
        assertEquals("2", r[0]);
        assertTrue(r[2].contains("--speed-prompts >= 0 (0: all prompts)"), r[2]);
    }
}
