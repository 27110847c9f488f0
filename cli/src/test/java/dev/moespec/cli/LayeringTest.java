package dev.moespec.cli;

import com.tngtech.archunit.core.domain.JavaClasses;
import com.tngtech.archunit.core.importer.ClassFileImporter;
import com.tngtech.archunit.core.importer.ImportOption;
import com.tngtech.archunit.lang.ArchRule;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.classes;
import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.noClasses;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The layering rules of DESIGN.md, checked on the production classes of every module (the cli's test
 * classpath holds them all). A rule that names packages nobody has would pass vacuously, so each rule
 * first asserts that its subject exists.
 */
class LayeringTest {
    private static JavaClasses classes;

    private static final String[] BACKENDS = {"triton", "flashinfer", "auto"};

    @BeforeAll
    static void importClasses() {
        classes = new ClassFileImporter()
                .withImportOption(ImportOption.Predefined.DO_NOT_INCLUDE_TESTS)
                .importPackages("dev.moespec");
    }

    private static void assertPresent(String pkg) {
        assertTrue(classes.stream().anyMatch(c -> c.getPackageName().startsWith(pkg)),
                "no classes found in " + pkg + ": the rule below would pass vacuously");
    }

    private static void check(ArchRule rule) {
        rule.check(classes);
    }

    @ParameterizedTest(name = "backend {0} depends on no other backend, proposers, engine or cli")
    @ValueSource(strings = {"triton", "flashinfer", "auto"})
    void backendsAreIndependent(String backend) {
        String own = "dev.moespec.backend." + backend + "..";
        assertPresent("dev.moespec.backend." + backend);
        for (String other : BACKENDS) {
            if (other.equals(backend)) continue;
            check(noClasses().that().resideInAPackage(own)
                    .should().dependOnClassesThat().resideInAPackage("dev.moespec.backend." + other + ".."));
        }
        check(noClasses().that().resideInAPackage(own).should().dependOnClassesThat()
                .resideInAnyPackage("dev.moespec.proposers..", "dev.moespec.engine..", "dev.moespec.cli.."));
    }

    @Test
    void proposersDependOnNoBackendAndNotOnEngine() {
        assertPresent("dev.moespec.proposers");
        check(noClasses().that().resideInAPackage("dev.moespec.proposers..").should().dependOnClassesThat()
                .resideInAnyPackage("dev.moespec.backend..", "dev.moespec.moe..", "dev.moespec.engine..", "dev.moespec.cli.."));
    }

    @Test
    void pluginsDoNotUseGuice() {
        assertPresent("dev.moespec.backend");
        check(noClasses().that().resideInAnyPackage("dev.moespec.backend..", "dev.moespec.proposers..",
                        "dev.moespec.moe..", "dev.moespec.api..", "dev.moespec.cuda..")
                .should().dependOnClassesThat().resideInAnyPackage("com.google.inject..", "jakarta.inject..", "javax.inject.."));
    }

    @Test
    void apiDependsOnNothingOfOurs() {
        assertPresent("dev.moespec.api");
        check(classes().that().resideInAPackage("dev.moespec.api..")
                .should().onlyDependOnClassesThat().resideInAnyPackage("dev.moespec.api..", "java..",
                        "com.fasterxml.jackson.."));
    }

    @Test
    void spiMoeAndCudaDependOnlyOnApi() {
        assertPresent("dev.moespec.moe");
        assertPresent("dev.moespec.cuda");
        check(noClasses().that().resideInAPackage("dev.moespec.moe..").should().dependOnClassesThat()
                .resideInAnyPackage("dev.moespec.cuda..", "dev.moespec.backend..", "dev.moespec.proposers..",
                        "dev.moespec.engine..", "dev.moespec.cli.."));
        check(noClasses().that().resideInAPackage("dev.moespec.cuda..").should().dependOnClassesThat()
                .resideInAnyPackage("dev.moespec.moe..", "dev.moespec.backend..", "dev.moespec.proposers..",
                        "dev.moespec.engine..", "dev.moespec.cli.."));
    }

    @Test
    void engineFindsBackendsAndProposersOnlyThroughServiceLoader() {
        assertPresent("dev.moespec.engine");
        check(noClasses().that().resideInAnyPackage("dev.moespec.engine..", "dev.moespec.cli..")
                .should().dependOnClassesThat().resideInAnyPackage("dev.moespec.backend..", "dev.moespec.proposers.ngram.."));
    }

    @Test
    void nativeBindingsStayInternal() {
        assertPresent("dev.moespec.cuda.internal");
        check(noClasses().that().resideOutsideOfPackage("dev.moespec.cuda..")
                .should().dependOnClassesThat().resideInAPackage("dev.moespec.cuda.internal.."));
    }
}
