package dev.moespec.cli;

import com.fasterxml.jackson.databind.DeserializationFeature;
import dev.moespec.cli.BenchSpecCommand.Report;
import dev.moespec.cli.BenchSpecCommand.Row;

import java.io.IOException;
import java.io.PrintWriter;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * {@code bench spec --fork}: plain decoding and each method × k measured by a JVM of its own ({@code bench spec --only
 * CONFIG --json}, started with this JVM's options and class path), as JMH forks a benchmark, then merged into one
 * report with every speed-up taken against the plain child's tokens/s.
 */
final class BenchForks {
    private BenchForks() {}

    /**
     * @param arguments      the run's options for each child (it adds --only and --json)
     * @param configurations the method × k configurations as --only names (METHOD:K), in table order
     */
    static Report run(List<String> arguments, List<String> configurations, PrintWriter err, boolean quiet) {
        Report plain = child(arguments, BenchSpecCommand.PLAIN);
        List<Row> rows = new ArrayList<>();
        for (String configuration : configurations) {
            for (Row row : child(arguments, configuration).rows()) {
                rows.add(row.against(plain.plainTokensPerSecondBatch1(), plain.plainTokensPerSecondBatched()));
            }
            if (!quiet) {
                err.printf(Locale.ROOT, "bench spec: %s done in a JVM of its own%n", describe(configuration));
                err.flush();
            }
        }
        return new Report(plain.device(), plain.prompts(), plain.maxTokens(), plain.batch(), plain.speedPrompts(),
                plain.plainTokensPerSecondBatch1(), plain.plainTokensPerSecondBatched(), plain.plainStepBatch1(),
                plain.plainPrefillMsBatch1(), rows);
    }

    /** Runs one child to its end (its progress and errors go to this process's stderr) and reads its report. */
    private static Report child(List<String> arguments, String configuration) {
        List<String> command = new ArrayList<>();
        command.add(ProcessHandle.current().info().command()
                .orElse(Path.of(System.getProperty("java.home"), "bin", "java").toString()));
        command.addAll(ManagementFactory.getRuntimeMXBean().getInputArguments());
        command.addAll(List.of("-cp", System.getProperty("java.class.path"), Moespec.class.getName(), "bench", "spec"));
        command.addAll(arguments);
        command.addAll(List.of("--only", configuration, "--json"));
        try {
            Process p = new ProcessBuilder(command).redirectError(ProcessBuilder.Redirect.INHERIT).start();
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            int exit = p.waitFor();
            if (exit != 0) {
                throw new IllegalStateException("bench spec --fork: the JVM measuring " + configuration + " exited with "
                        + exit + " (its error is above); run bench spec without --fork to see it in this JVM");
            }
            return SpecReport.mapper().readerFor(Report.class)
                    .without(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES).readValue(out);
        } catch (IOException e) {
            throw new IllegalStateException("bench spec --fork: could not run or read the JVM measuring " + configuration
                    + ": " + e.getMessage(), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("bench spec --fork: interrupted while " + configuration + " was measured", e);
        }
    }

    /** METHOD:K[:SIBLINGS] as the progress line says it: {@code eagle k=4}, {@code eagle k=4 with 2 sibling drafts}. */
    static String describe(String configuration) {
        String[] p = configuration.split(":");
        return p[0] + " k=" + p[1] + (p.length > 2 ? " with " + p[2] + " sibling drafts" : "");
    }
}
