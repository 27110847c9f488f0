package dev.moespec.examples.backend;

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
        assertEquals(0, r.exit(), r.output());
        assertTrue(r.output().contains("[target] "), r.output());
        assertTrue(r.output().matches("(?s).*example_naive_cpu\\s+\\[PINNED].*"), r.output());
    }

    @Test
    void withoutTheJarTheNameIsUnknownAndListed(@TempDir Path tmp) throws Exception {
        Result r = cli(List.of(), "plan", "--model", MODELS.resolve("demo-draft").toString(),
                "--moe-backend", "example_naive_cpu", "--assume-device", "cpu");
        assertEquals(2, r.exit(), r.output());
        assertTrue(r.output().contains("Unknown MoE backend 'example_naive_cpu'"), r.output());
        assertTrue(r.output().contains("cpu_reference"), r.output());
    }

    @Test
    void autoOnAnFp8TargetShowsWhyTheThirdPartyBackendWasRejected(@TempDir Path tmp) throws Exception {
        Path jar = packThisModule(tmp.resolve("example-backend.jar"));
        Result r = cli(List.of(jar), "plan", "--model", MODELS.resolve("demo-target").toString(), "--assume-device", "cpu");
        assertEquals(0, r.exit(), r.output());
        assertTrue(r.output().contains("example_naive_cpu"), r.output());
        assertTrue(r.output().contains("UNSUPPORTED_QUANTIZATION"), r.output());
    }
}
