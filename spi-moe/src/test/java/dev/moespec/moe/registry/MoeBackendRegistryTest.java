package dev.moespec.moe.registry;

import dev.moespec.api.device.DeviceInfo;
import dev.moespec.api.plugin.PluginLocation;
import dev.moespec.moe.MoeAutoPolicy;
import dev.moespec.moe.MoeLayerSpec;
import dev.moespec.moe.Phase;
import dev.moespec.moe.fakes.FakeBackend;
import dev.moespec.moe.reference.CpuReferenceBackendProvider;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.*;

class MoeBackendRegistryTest {
    private static final String SERVICES = "META-INF/services/dev.moespec.moe.MoeBackendProvider";

    /** ServiceLoader needs public classes with public no-arg constructors. */
    public static class Triton extends FakeBackend {
        public Triton() { super("triton", (l, d) -> dev.moespec.moe.Eligibility.eligible()); }
    }

    public static class OtherTriton extends FakeBackend {
        public OtherTriton() { super("triton", (l, d) -> dev.moespec.moe.Eligibility.eligible()); }
    }

    public static class Broken extends FakeBackend {
        public Broken() {
            super("broken", null);
            throw new IllegalStateException("no CUDA context");
        }
    }

    public static class Heuristic implements MoeAutoPolicy {
        @Override public String name() { return "heuristic-table"; }
        @Override public List<Preference> rank(MoeLayerSpec l, DeviceInfo d, Phase p, Set<String> r) { return List.of(); }
    }

    private static final String HERE = PluginLocation.of(MoeBackendRegistryTest.class);

    @Test
    void providersAreSortedAndNamesNormalised() {
        var registry = MoeBackendRegistry.of(List.of(FakeBackend.eligible("triton"), new CpuReferenceBackendProvider()), List.of(), Set.of());
        assertEquals(List.of("cpu_reference", "triton"), registry.providers().stream().map(p -> p.name()).toList());
        assertEquals(Set.of("cpu_reference", "triton"), registry.names());
        assertEquals("cpu_reference", registry.find("CPU-Reference").orElseThrow().name());
        assertTrue(registry.find("deep_gemm").isEmpty());
        assertTrue(registry.autoPolicy().isEmpty());
        assertEquals("nothing excluded", registry.exclusionSource());
    }

    @Test
    void unknownNameListsTheAvailableOnesAndTheClosest() {
        var registry = MoeBackendRegistry.of(List.of(FakeBackend.eligible("triton"), new CpuReferenceBackendProvider()), List.of(), Set.of());
        var e = assertThrows(UnknownMoeBackendException.class, () -> registry.require("tritno", "--moe-backend"));
        assertEquals("Unknown MoE backend 'tritno' (--moe-backend). Available: auto, cpu_reference, triton. Did you mean 'triton'?",
                e.getMessage());
        assertEquals(List.of("auto", "cpu_reference", "triton"), e.available());
        var far = assertThrows(UnknownMoeBackendException.class, () -> registry.require("marlin", "--moe-backend"));
        assertEquals("Unknown MoE backend 'marlin' (--moe-backend). Available: auto, cpu_reference, triton.", far.getMessage());
        var auto = assertThrows(MoeBackendRegistryException.class, () -> registry.require("AUTO", "--moe-backend"));
        assertEquals("'auto' (--moe-backend) is not a backend but a request to choose one; resolve it with MoeBackendResolver",
                auto.getMessage());
    }

    @Test
    void duplicateNamesNameBothClassesAndBothLocations() {
        var e = assertThrows(DuplicateMoeBackendException.class,
                () -> MoeBackendRegistry.of(List.of(new Triton(), new OtherTriton()), List.of(), Set.of()));
        assertEquals("Two MoE backend providers are named 'triton': " + Triton.class.getName() + " (from " + HERE + ") and "
                + OtherTriton.class.getName() + " (from " + HERE + "). Remove one of the two jars from the classpath.", e.getMessage());
        assertEquals(List.of(HERE, HERE), e.locations());
    }

    @Test
    void invalidAndReservedNamesAreRefused() {
        var upper = assertThrows(MoeBackendRegistryException.class,
                () -> MoeBackendRegistry.of(List.of(FakeBackend.eligible("FlashInfer-TRTLLM")), List.of(), Set.of()));
        assertEquals("MoE backend provider " + FakeBackend.class.getName() + " (from " + HERE + ") has the name 'FlashInfer-TRTLLM', "
                + "which is not lower_snake ([a-z][a-z0-9_]*); use 'flashinfer_trtllm'.", upper.getMessage());
        var auto = assertThrows(MoeBackendRegistryException.class,
                () -> MoeBackendRegistry.of(List.of(FakeBackend.eligible("auto")), List.of(), Set.of()));
        assertTrue(auto.getMessage().contains("uses the reserved name 'auto'"), auto.getMessage());
    }

    @Test
    void twoAutoPoliciesAreRefused() {
        var e = assertThrows(DuplicateMoeBackendException.class,
                () -> MoeBackendRegistry.of(List.of(), List.of(new Heuristic(), new Heuristic()), Set.of()));
        assertEquals("More than one MoE auto policy is on the classpath: 'heuristic-table' " + Heuristic.class.getName() + " (from "
                + HERE + ") and 'heuristic-table' " + Heuristic.class.getName() + " (from " + HERE + "). --moe-backend auto needs "
                + "exactly one ranking; remove one of the two jars from the classpath.", e.getMessage());
    }

    @Test
    void exclusionKeepsTheProviderAndWarnsAboutUnknownNames() {
        var registry = MoeBackendRegistry.of(List.of(FakeBackend.eligible("triton")), List.of(), Set.of("Triton", "tritn"));
        assertTrue(registry.isExcluded("triton"));
        assertTrue(registry.find("triton").isPresent());
        assertEquals("excluded by the registry's exclusion set [tritn, triton]", registry.exclusionSource());
        assertEquals(List.of("the registry's exclusion set [tritn, triton] names 'tritn', which no jar provides (registered: triton). "
                + "Did you mean 'triton'?"), registry.warnings());
    }

    @Test
    void systemPropertyWinsOverTheEnvironment() {
        ClassLoader loader = getClass().getClassLoader();
        var both = MoeBackendRegistry.load(loader, Map.of(MoeBackendRegistry.EXCLUDE_PROPERTY, "cpu-reference")::get,
                Map.of(MoeBackendRegistry.EXCLUDE_ENV, "other")::get);
        assertEquals("excluded by -Dmoespec.moe.exclude=cpu-reference", both.exclusionSource());
        assertTrue(both.isExcluded("cpu_reference"));
        var env = MoeBackendRegistry.load(loader, k -> null, Map.of(MoeBackendRegistry.EXCLUDE_ENV, " cpu_reference, ")::get);
        assertEquals("excluded by MOESPEC_MOE_EXCLUDE=cpu_reference,", env.exclusionSource());
        assertEquals(Set.of("cpu_reference"), env.excluded());
    }

    @Test
    void serviceLoaderFindsTheBuiltInReferenceAndJarProviders(@TempDir Path dir) throws IOException {
        write(dir, SERVICES, Triton.class.getName());
        write(dir, "META-INF/services/dev.moespec.moe.MoeAutoPolicy", Heuristic.class.getName());
        try (var loader = loader(dir)) {
            var registry = MoeBackendRegistry.load(loader, k -> null, k -> null);
            assertEquals(Set.of("cpu_reference", "triton"), registry.names());
            assertEquals("heuristic-table", registry.autoPolicy().orElseThrow().name());
            assertEquals(List.of(), registry.warnings());
        }
    }

    @Test
    void aProviderThatFailsToInstantiateIsNamedWithItsJar(@TempDir Path dir) throws IOException {
        write(dir, SERVICES, Broken.class.getName());
        try (var loader = loader(dir)) {
            var e = assertThrows(MoeBackendRegistryException.class, () -> MoeBackendRegistry.load(loader, k -> null, k -> null));
            assertEquals("MoE backend provider " + Broken.class.getName() + " (from " + HERE + ") failed to instantiate: "
                    + "java.lang.IllegalStateException: no CUDA context. Fix or remove that jar.", e.getMessage());
        }
    }

    @Test
    void aListedClassThatDoesNotExistNamesTheListingJar(@TempDir Path dir) throws IOException {
        write(dir, SERVICES, "com.example.Missing");
        try (var loader = loader(dir)) {
            var e = assertThrows(MoeBackendRegistryException.class, () -> MoeBackendRegistry.load(loader, k -> null, k -> null));
            assertTrue(e.getMessage().startsWith("Cannot load a MoE backend provider listed in META-INF/services/dev.moespec.moe.MoeBackendProvider"),
                    e.getMessage());
            assertTrue(e.getMessage().contains("Unloadable entries: com.example.Missing (listed by " + dir + ")"), e.getMessage());
        }
    }

    @Test
    void aClassListedByTwoJarsIsAWarning(@TempDir Path one, @TempDir Path two) throws IOException {
        write(one, SERVICES, Triton.class.getName());
        write(two, SERVICES, "# comment\n" + Triton.class.getName());
        try (var loader = new URLClassLoader(new URL[]{one.toUri().toURL(), two.toUri().toURL()}, getClass().getClassLoader())) {
            var registry = MoeBackendRegistry.load(loader, k -> null, k -> null);
            assertEquals(List.of(Triton.class.getName() + " is listed by 2 jars (" + one + ", " + two + "); only the first on the "
                    + "classpath is loaded. Remove the duplicate jar."), registry.warnings());
        }
    }

    private URLClassLoader loader(Path dir) throws IOException {
        return new URLClassLoader(new URL[]{dir.toUri().toURL()}, getClass().getClassLoader());
    }

    private static void write(Path root, String path, String content) throws IOException {
        Path file = root.resolve(path);
        Files.createDirectories(file.getParent());
        Files.writeString(file, content + "\n");
    }
}
