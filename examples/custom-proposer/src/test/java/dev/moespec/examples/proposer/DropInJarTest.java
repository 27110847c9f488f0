package dev.moespec.examples.proposer;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.jar.JarEntry;
import java.util.jar.JarOutputStream;
import java.util.stream.Collectors;
import java.util.stream.Stream;

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
        assertEquals(0, plain.exit, plain.output);
        Result spec = cli(List.of(jar), "generate", "--model", MODELS.resolve("demo-target").toString(), "--prompt", PROMPT,
                "--max-tokens", "40", "--ignore-eos", "--speculative-config", "{\"method\":\"suffix\",\"num_speculative_tokens\":3}");
        assertEquals(0, spec.exit, spec.output);
        assertEquals(text(plain.output), text(spec.output), "greedy speculative output equals plain greedy output");
        assertTrue(spec.output.contains("| speculative: suffix k=3"), spec.output);
        assertTrue(spec.output.matches("(?s).*\\d+ drafts, [1-9]\\d* of \\d+ draft tokens accepted.*"), spec.output);
    }

    @Test
    void withoutTheJarTheMethodIsUnknownAndTheInstalledOnesAreListed() throws Exception {
        Result r = cli(List.of(), "generate", "--model", MODELS.resolve("demo-target").toString(), "--max-tokens", "2",
                "--speculative-config", "{\"method\":\"suffix\",\"num_speculative_tokens\":3}");
        assertEquals(2, r.exit, r.output);
        assertTrue(r.output.contains("Unknown speculative method 'suffix'"), r.output);
        assertTrue(r.output.contains("draft_model, eagle, medusa, mtp, ngram"), r.output);
    }

    /** The generated text: everything before the summary line. */
    private static String text(String output) {
        int end = output.indexOf("\n--- ");
        assertTrue(end > 0, output);
        return output.substring(0, end);
    }

    private record Result(int exit, String output) {}

    /** The cli and built-in plugins from this test's classpath, without this module's own classes, plus {@code extra}. */
    private static Result cli(List<Path> extra, String... args) throws IOException, InterruptedException {
        Path own = Path.of("target").toAbsolutePath();
        List<String> cp = Arrays.stream(System.getProperty("java.class.path").split(java.io.File.pathSeparator))
                .filter(e -> !Path.of(e).toAbsolutePath().startsWith(own))
                .collect(Collectors.toCollection(ArrayList::new));
        extra.forEach(p -> cp.add(p.toString()));
        List<String> command = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "--enable-native-access=ALL-UNNAMED", "-cp", String.join(java.io.File.pathSeparator, cp),
                "dev.moespec.cli.Moespec"));
        command.addAll(List.of(args));
        Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        String output = new String(p.getInputStream().readAllBytes());
        assertTrue(p.waitFor(120, TimeUnit.SECONDS), "cli did not finish");
        return new Result(p.exitValue(), output);
    }

    private static Path packThisModule(Path jar) throws IOException {
        Path classes = Path.of("target/classes");
        try (OutputStream os = Files.newOutputStream(jar); JarOutputStream out = new JarOutputStream(os);
             Stream<Path> files = Files.walk(classes)) {
            for (Path f : files.filter(Files::isRegularFile).toList()) {
                out.putNextEntry(new JarEntry(classes.relativize(f).toString().replace('\\', '/')));
                Files.copy(f, out);
                out.closeEntry();
            }
        }
        return jar;
    }
}
