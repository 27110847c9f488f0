package dev.moespec.engine.loader;

import java.nio.file.Files;
import java.nio.file.Path;

/** Finds the bundled demo models ({@code models/}) from a test's working directory. */
public final class DemoModels {
    private DemoModels() {}

    public static Path dir() {
        for (Path d = Path.of("").toAbsolutePath(); d != null; d = d.getParent()) {
            if (Files.isRegularFile(d.resolve("models/golden.json"))) return d.resolve("models");
        }
        throw new IllegalStateException("models/golden.json not found above " + Path.of("").toAbsolutePath());
    }

    public static Path target() {
        return dir().resolve("demo-target");
    }

    public static Path draft() {
        return dir().resolve("demo-draft");
    }
}
