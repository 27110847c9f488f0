package dev.moespec.proposers.registry;

import dev.moespec.api.proposer.ProposerRegistry;
import dev.moespec.api.proposer.ProposerRegistryException;

import dev.moespec.api.plugin.PluginLocation;
import dev.moespec.proposers.ngram.NgramProposerProvider;
import dev.moespec.api.proposer.ProposerRegistryException.Problem;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.IOException;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ProposerRegistryTest {

    private static final ProposerRegistry NGRAM_ONLY = ProposerRegistry.of(List.of(new NgramProposerProvider()));

    @Test
    void serviceLoaderDiscoversEveryBuiltInProposerOfThisModule() {
        var registry = ProposerRegistry.load(getClass().getClassLoader());
        assertEquals(List.of("draft_model", "eagle", "medusa", "mtp", "ngram"), registry.methods());
        assertInstanceOf(NgramProposerProvider.class, registry.require("ngram"));
    }

    @Test
    void lookupIsNormalisedLikeVllm() {
        assertTrue(NGRAM_ONLY.find(" NGram ").isPresent());
        assertTrue(NGRAM_ONLY.find("draft_model").isEmpty());
    }

    @Test
    void duplicateMethodNamesBothClassesAndJars() {
        var first = new NgramProposerProvider();
        var second = new TestProviders.OtherNgram();
        var e = assertThrows(ProposerRegistryException.class, () -> ProposerRegistry.of(List.of(first, second)));
        assertEquals(Problem.DUPLICATE_METHOD, e.problem());
        assertEquals("Two proposer providers claim speculative method 'ngram': "
                + "dev.moespec.proposers.ngram.NgramProposerProvider (from " + PluginLocation.of(NgramProposerProvider.class)
                + ") and dev.moespec.proposers.registry.TestProviders$OtherNgram (from "
                + PluginLocation.of(TestProviders.OtherNgram.class) + "). Remove one of the two jars from the classpath.",
                e.getMessage());
    }

    @Test
    void unknownMethodListsTheAvailableOnesAndTheClosest() {
        var e = assertThrows(ProposerRegistryException.class, () -> NGRAM_ONLY.require("ngarm"));
        assertEquals(Problem.UNKNOWN_METHOD, e.problem());
        assertEquals("Unknown speculative method 'ngarm' (--speculative-config \"method\"). Available: ngram."
                + " Did you mean 'ngram'?", e.getMessage());
    }

    @ParameterizedTest
    @CsvSource({"ngrm, ngram", "n-gram, ngram", "ngrams, ngram", "draft_modle, draft_model", "Draft_Mdoel, draft_model"})
    void typosSuggestTheIntendedMethod(String typed, String intended) {
        var registry = ProposerRegistry.of(List.of(new NgramProposerProvider(), new TestProviders.Named("draft_model")));
        var e = assertThrows(ProposerRegistryException.class, () -> registry.require(typed));
        assertTrue(e.getMessage().endsWith("Available: draft_model, ngram. Did you mean '" + intended + "'?"),
                e.getMessage());
    }

    @Test
    void unknownMethodWithNothingCloseOmitsTheSuggestion() {
        var registry = ProposerRegistry.of(List.of(new NgramProposerProvider(), new TestProviders.Named("draft_model")));
        var e = assertThrows(ProposerRegistryException.class, () -> registry.require("eagle3"));
        assertEquals("Unknown speculative method 'eagle3' (--speculative-config \"method\"). Available: draft_model, ngram.",
                e.getMessage());
    }

    @Test
    void anEmptyRegistrySaysNoJarIsInstalled() {
        var e = assertThrows(ProposerRegistryException.class, () -> ProposerRegistry.of(List.of()).require("ngram"));
        assertEquals("Unknown speculative method 'ngram' (--speculative-config \"method\"). Available: none"
                + " (no proposer jar is on the classpath; add moespec-proposers or a proposer plugin jar).", e.getMessage());
    }

    @Test
    void aNameThatNormalisesIsRefusedWithTheRename() {
        var e = assertThrows(ProposerRegistryException.class,
                () -> ProposerRegistry.of(List.of(new TestProviders.Named("Draft-Model"))));
        assertEquals(Problem.INVALID_METHOD_NAME, e.problem());
        assertEquals("Proposer provider dev.moespec.proposers.registry.TestProviders$Named (from "
                + PluginLocation.of(TestProviders.Named.class) + ") has method name 'Draft-Model', which is not"
                + " lower_snake_case (letters, digits and single underscores, starting with a letter, like 'ngram' or"
                + " 'draft_model'). Rename it to 'draft_model'.", e.getMessage());
    }

    @ParameterizedTest
    @ValueSource(strings = {"", "1gram", "n gram", "ngram_", "n__gram", "_ngram", "ngräm"})
    void malformedNamesAreRefused(String method) {
        var e = assertThrows(ProposerRegistryException.class,
                () -> ProposerRegistry.of(List.of(new TestProviders.Named(method))));
        assertEquals(Problem.INVALID_METHOD_NAME, e.problem());
        assertTrue(e.getMessage().contains("has method name '" + method + "', which is not lower_snake_case"),
                e.getMessage());
    }

    @Test
    void aNullNameIsRefused() {
        var e = assertThrows(ProposerRegistryException.class,
                () -> ProposerRegistry.of(List.of(new TestProviders.Named(null))));
        assertTrue(e.getMessage().endsWith("has method name null, which is not lower_snake_case (letters, digits and"
                + " single underscores, starting with a letter, like 'ngram' or 'draft_model')."), e.getMessage());
    }

    @Test
    void aProviderThatThrowsFromMethodIsNamed() {
        var e = assertThrows(ProposerRegistryException.class,
                () -> ProposerRegistry.of(List.of(new TestProviders.NamelessProvider())));
        assertEquals(Problem.PROVIDER_FAILED, e.problem());
        assertEquals("Proposer provider dev.moespec.proposers.registry.TestProviders$NamelessProvider (from "
                + PluginLocation.of(TestProviders.NamelessProvider.class) + ") threw from method():"
                + " java.lang.UnsupportedOperationException: config not loaded. Fix or remove that jar.", e.getMessage());
    }

    @Test
    void aProviderThatFailsToInstantiateIsNamedWithItsJar(@TempDir Path jar) throws IOException {
        var e = assertThrows(ProposerRegistryException.class,
                () -> loadWithExtraServices(jar, TestProviders.Exploding.class.getName()));
        assertEquals(Problem.PROVIDER_FAILED, e.problem());
        assertEquals("Proposer provider dev.moespec.proposers.registry.TestProviders$Exploding (from "
                + PluginLocation.of(TestProviders.Exploding.class) + ") could not be instantiated:"
                + " java.lang.IllegalStateException: libfoo.so not found. A provider needs a public no-argument"
                + " constructor that does not throw; fix or remove that jar.", e.getMessage());
    }

    @Test
    void aServicesLineNamingAMissingClassIsReported(@TempDir Path jar) throws IOException {
        var e = assertThrows(ProposerRegistryException.class, () -> loadWithExtraServices(jar, "com.example.Gone"));
        assertEquals(Problem.PROVIDER_FAILED, e.problem());
        assertTrue(e.getMessage().startsWith("Could not load a proposer plugin: "), e.getMessage());
        assertTrue(e.getMessage().contains("com.example.Gone"), e.getMessage());
        assertTrue(e.getMessage().endsWith("Fix the jar's META-INF/services/dev.moespec.api.proposer.ProposerProvider"
                + " or remove the jar from the classpath."), e.getMessage());
    }

    @Test
    void aSecondJarWithTheSameMethodFailsDiscovery(@TempDir Path jar) throws IOException {
        var e = assertThrows(ProposerRegistryException.class,
                () -> loadWithExtraServices(jar, TestProviders.OtherNgram.class.getName()));
        assertEquals(Problem.DUPLICATE_METHOD, e.problem());
        assertTrue(e.getMessage().contains("NgramProposerProvider") && e.getMessage().contains("OtherNgram"),
                e.getMessage());
    }

    /** Discovery through a class loader that adds a "jar" (a directory) whose services file lists {@code line}. */
    private ProposerRegistry loadWithExtraServices(Path jar, String line) throws IOException {
        Path services = jar.resolve("META-INF/services/dev.moespec.api.proposer.ProposerProvider");
        Files.createDirectories(services.getParent());
        Files.writeString(services, line + "\n");
        try (var loader = new URLClassLoader(new URL[] {jar.toUri().toURL()}, getClass().getClassLoader())) {
            return ProposerRegistry.load(loader);
        }
    }
}
