package dev.moespec.examples.backend;

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
 * What a user does with a backend jar: put it on the cli's classpath and name it. The test packs this module's
 * classes into a jar, starts the real cli in a new JVM with that jar beside the built-in plugins, and reads
 * {@code moespec plan}'s output.
 */
class DropInJarTest {
    private static final Path MODELS = Path.of("../../models").toAbsolutePath().normalize();

    @Test
    void pinnedThirdPartyBackendIsFoundInPlan(@TempDir Path tmp) throws Exception {
        Path jar = packThisModule(tmp.resolve("example-backend.jar"));
        Result r = cli(List.of(jar), "plan", "--model", MODELS.resolve("demo-draft").toString(),
                "--moe-backend", "example_naive_cpu", "--assume-device", "cpu");
        assertEquals(0, r.exit, r.output);
        assertTrue(r.output.contains("[target] "), r.output);
        assertTrue(r.output.matches("(?s).*example_naive_cpu\\s+\\[PINNED].*"), r.output);
    }

    @Test
    void withoutTheJarTheNameIsUnknownAndListed(@TempDir Path tmp) throws Exception {
        Result r = cli(List.of(), "plan", "--model", MODELS.resolve("demo-draft").toString(),
                "--moe-backend", "example_naive_cpu", "--assume-device", "cpu");
        assertEquals(2, r.exit, r.output);
        assertTrue(r.output.contains("Unknown MoE backend 'example_naive_cpu'"), r.output);
        assertTrue(r.output.contains("cpu_reference"), r.output);
    }

    @Test
    void autoOnAnFp8TargetShowsWhyTheThirdPartyBackendWasRejected(@TempDir Path tmp) throws Exception {
        Path jar = packThisModule(tmp.resolve("example-backend.jar"));
        Result r = cli(List.of(jar), "plan", "--model", MODELS.resolve("demo-target").toString(), "--assume-device", "cpu");
        assertEquals(0, r.exit, r.output);
        assertTrue(r.output.contains("example_naive_cpu"), r.output);
        assertTrue(r.output.contains("UNSUPPORTED_QUANTIZATION"), r.output);
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
