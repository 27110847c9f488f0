package dev.moespec.cli;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;

/**
 * Finds the demo model family bundled with moespec ({@code models/} in the project): under
 * {@code -Dmoespec.home} (set by the {@code ./moespec} launcher), else in the current directory or a parent.
 */
final class BundledModels {
    static final String DEMO_TARGET = "demo-target";

    private BundledModels() {}

    static Path demoTarget() {
        return find(DEMO_TARGET).orElseThrow(() -> new UserInputException(
                "the bundled demo model (models/" + DEMO_TARGET + ") was not found under -Dmoespec.home or the current"
                        + " directory; run ./moespec from the project checkout, or pass --model DIR"));
    }

    static Optional<Path> find(String name) {
        String home = System.getProperty("moespec.home");
        if (home != null && isModel(Path.of(home, "models", name))) {
            return Optional.of(Path.of(home, "models", name));
        }
        for (Path dir = Path.of("").toAbsolutePath(); dir != null; dir = dir.getParent()) {
            Path candidate = dir.resolve("models").resolve(name);
            if (isModel(candidate)) return Optional.of(candidate);
        }
        return Optional.empty();
    }

    private static boolean isModel(Path dir) {
        return Files.isRegularFile(dir.resolve("config.json"));
    }
}
