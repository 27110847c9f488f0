package dev.moespec.examples.duplicate;

import dev.moespec.api.plugin.PluginLocation;
import dev.moespec.cli.Moespec;
import dev.moespec.moe.MoeBackendProvider;
import dev.moespec.moe.registry.MoeBackendRegistry;
import dev.moespec.moe.registry.MoeBackendRegistryException;
import org.junit.jupiter.api.Test;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.util.ServiceLoader;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** This module's jar and the built-in backend-triton jar are both on the test classpath, both named 'triton'. */
class DuplicateNameTest {

    private static String tritonJar() {
        return ServiceLoader.load(MoeBackendProvider.class).stream()
                .map(ServiceLoader.Provider::type)
                .filter(t -> !t.equals(ImpostorTritonProvider.class) && t.getName().contains("Triton"))
                .map(PluginLocation::of).findFirst().orElseThrow();
    }

    @Test
    void registryNamesBothJars() {
        var e = assertThrows(MoeBackendRegistryException.class,
                () -> MoeBackendRegistry.load(getClass().getClassLoader()));
        String message = e.getMessage();
        assertTrue(message.contains("'triton'"), message);
        assertTrue(message.contains(PluginLocation.of(ImpostorTritonProvider.class)), message);
        assertTrue(tritonJar().endsWith(".jar") || tritonJar().contains("backend-triton"), tritonJar());
        assertTrue(message.contains(tritonJar()), message);
    }

    @Test
    void cliExitsTwoWithTheSameMessage() {
        StringWriter out = new StringWriter(), err = new StringWriter();
        int exit = Moespec.run(new PrintWriter(out), new PrintWriter(err), "plan", "--assume-device", "cpu");
        assertEquals(2, exit, err.toString());
        assertTrue(err.toString().startsWith("moespec: "), err.toString());
        assertTrue(err.toString().contains(PluginLocation.of(ImpostorTritonProvider.class)), err.toString());
        assertEquals(1, err.toString().strip().lines().count(), "one line: " + err);
    }
}
