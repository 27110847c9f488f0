package dev.moespec.cli.testing;

import java.io.File;
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

/**
 * What a user does with a plugin jar, for the plugin modules' tests (shipped in the cli's test-jar): pack the
 * module's classes into a jar, then start the real cli in a new JVM with that jar beside the built-in plugins.
 * The caller's own {@code target/} is left off the classpath so that only the jar can bring the plugin in.
 */
public final class DroppedInJar {
    private DroppedInJar() {}

    /** The cli's exit code and everything it printed (stdout and stderr together). */
    public record Result(int exit, String output) {}

    /** Packs the current module's {@code target/classes} into {@code jar}. */
    public static Path packThisModule(Path jar) throws IOException {
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

    /** Runs {@code moespec args…} with this test's classpath minus the module's own classes, plus {@code jars}. */
    public static Result cli(List<Path> jars, String... args) throws IOException, InterruptedException {
        Path own = Path.of("target").toAbsolutePath();
        List<String> cp = Arrays.stream(System.getProperty("java.class.path").split(File.pathSeparator))
                .filter(e -> !Path.of(e).toAbsolutePath().startsWith(own))
                .collect(Collectors.toCollection(ArrayList::new));
        jars.forEach(p -> cp.add(p.toString()));
        List<String> command = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "--enable-native-access=ALL-UNNAMED", "-cp", String.join(File.pathSeparator, cp),
                "dev.moespec.cli.Moespec"));
        command.addAll(List.of(args));
        Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        String output = new String(p.getInputStream().readAllBytes());
        if (!p.waitFor(120, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new IllegalStateException("the cli did not finish within 120 s; output so far:\n" + output);
        }
        return new Result(p.exitValue(), output);
    }
}
