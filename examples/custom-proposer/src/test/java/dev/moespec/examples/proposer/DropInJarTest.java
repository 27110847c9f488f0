package dev.moespec.examples.proposer;

import dev.moespec.cli.testing.DroppedInJar.Result;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.List;

import static dev.moespec.cli.testing.DroppedInJar.cli;
import static dev.moespec.cli.testing.DroppedInJar.packThisModule;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * What a user does with a proposer jar: put it on the cli's classpath and name its method. The test packs this
 * module's classes into a jar, starts the real cli in a new JVM with that jar beside the built-in plugins, and runs
 * {@code moespec generate --speculative-config '{"method":"suffix",...}'}: greedy speculative output must equal
 * plain greedy output, and the report must name the method and show drafts being accepted.
 */
class DropInJarTest {
    private static final Path MODELS = Path.of("../../models").toAbsolutePath().normalize();
    // repetitive code, so suffix matching has something to find
    private static final String PROMPT = "    def a(self):\n        return self.x\n\n    def b(self):\n        return self.y\n\n    def c(self):\n";

    @Test
    void theDroppedInProposerRunsSpeculativeDecodingThroughTheCli(@TempDir Path tmp) throws Exception {
        Path jar = packThisModule(tmp.resolve("example-proposer.jar"));
        Result plain = cli(List.of(), "generate", "--model", MODELS.resolve("demo-target").toString(), "--prompt", PROMPT,
                "--max-tokens", "40", "--ignore-eos");
        assertEquals(0, plain.exit(), plain.output());
        Result spec = cli(List.of(jar), "generate", "--model", MODELS.resolve("demo-target").toString(), "--prompt", PROMPT,
                "--max-tokens", "40", "--ignore-eos", "--speculative-config", "{\"method\":\"suffix\",\"num_speculative_tokens\":3}");
        assertEquals(0, spec.exit(), spec.output());
        assertEquals(text(plain.output()), text(spec.output()), "greedy speculative output equals plain greedy output");
        assertTrue(spec.output().contains("| speculative: suffix k=3"), spec.output());
        assertTrue(spec.output().matches("(?s).*\\d+ drafts, [1-9]\\d* of \\d+ draft tokens accepted.*"), spec.output());
    }

    @Test
    void withoutTheJarTheMethodIsUnknownAndTheInstalledOnesAreListed() throws Exception {
        Result r = cli(List.of(), "generate", "--model", MODELS.resolve("demo-target").toString(), "--max-tokens", "2",
                "--speculative-config", "{\"method\":\"suffix\",\"num_speculative_tokens\":3}");
        assertEquals(2, r.exit(), r.output());
        assertTrue(r.output().contains("Unknown speculative method 'suffix'"), r.output());
        assertTrue(r.output().contains("draft_model, eagle, medusa, mtp, ngram"), r.output());
    }

    /** The generated text: everything before the summary line. */
    private static String text(String output) {
        int end = output.indexOf("\n--- ");
        assertTrue(end > 0, output);
        return output.substring(0, end);
    }
}
