package dev.moespec.api.config;

import com.fasterxml.jackson.databind.JsonNode;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.stream.Stream;

/** Finds the directory that holds a drafter's weights. */
final class DraftLocator {
    private DraftLocator() {}

    /**
     * A {@code model} path from {@code --speculative-config}: absolute as is; relative against the working
     * directory, then against the target directory's parent (so {@code "demo-draft"} works next to the target).
     */
    static Path resolveModelPath(String model, Path workingDirectory, ModelConfig target) {
        Path given = Path.of(model);
        if (given.isAbsolute()) {
            if (Files.isDirectory(given)) return given.normalize();
            throw new ConfigException("Draft model directory not found: " + given.normalize()
                    + " (\"model\" in --speculative-config); pass an existing checkpoint directory");
        }
        Path inCwd = workingDirectory.toAbsolutePath().resolve(given).normalize();
        if (Files.isDirectory(inCwd)) return inCwd;
        Path parent = target.path().getParent();
        Path besideTarget = parent == null ? null : parent.resolve(given).normalize();
        if (besideTarget != null && Files.isDirectory(besideTarget)) return besideTarget;
        throw new ConfigException("Draft model directory not found: \"" + model + "\" (looked in " + inCwd
                + (besideTarget == null ? "" : " and " + besideTarget)
                + "); pass the path of an existing checkpoint directory as \"model\" in --speculative-config");
    }

    /** Like {@link #resolveModelPath} but empty instead of an error: a plugin method's model need not be a path. */
    static Optional<Path> tryResolveModelPath(String model, Path workingDirectory, ModelConfig target) {
        try {
            return Optional.of(resolveModelPath(model, workingDirectory, target));
        } catch (ConfigException | java.nio.file.InvalidPathException e) {
            return Optional.empty();
        }
    }

    /**
     * The MTP weights of a target when {@code model} is not given: inside the target (its config has
     * {@code num_nextn_predict_layers > 0}), or in a sibling directory whose {@code config.json} has a
     * {@code model_type} ending in {@code _mtp} and {@code speculative.target_model} equal to the target's name.
     */
    static Path locateMtp(ModelConfig target) {
        if (target.nPredict().isPresent()) return target.path();
        Path parent = target.path().getParent();
        List<Path> found = new ArrayList<>();
        if (parent != null) {
            try (Stream<Path> siblings = Files.list(parent)) {
                siblings.filter(Files::isDirectory).sorted()
                        .filter(d -> !d.equals(target.path()) && isMtpFor(d, target.name()))
                        .forEach(found::add);
            } catch (IOException e) {
                throw new ConfigException("Cannot list " + parent + " while looking for the MTP weights of "
                        + target.name() + ": " + e.getMessage() + "; pass \"model\" in --speculative-config", e);
            }
        }
        if (found.size() == 1) return found.getFirst();
        if (found.size() > 1) {
            throw new ConfigException("Several MTP checkpoints for " + target.name() + " in " + parent + ": "
                    + found.stream().map(p -> p.getFileName().toString()).toList()
                    + "; pass the one to use as \"model\" in --speculative-config");
        }
        throw new ConfigException("method 'mtp' without \"model\": no MTP weights for " + target.name()
                + " inside the target (" + target.configFile() + " has no num_nextn_predict_layers > 0) or beside it"
                + " (no directory in " + parent + " has a config.json with a model_type ending in '_mtp' and"
                + " speculative.target_model \"" + target.name() + "\"); pass \"model\" in --speculative-config");
    }

    private static boolean isMtpFor(Path dir, String targetName) {
        Path file = dir.resolve(ModelConfig.CONFIG_FILE);
        if (!Files.isRegularFile(file)) return false;
        try {
            // A sibling with a broken config is some other checkpoint; it must not fail the target's start-up.
            JsonNode root = Json.readObject(Files.readString(file), "", "");
            JsonNode type = root.get("model_type");
            JsonNode spec = root.get("speculative");
            JsonNode targetModel = spec == null ? null : spec.get("target_model");
            return type != null && type.isTextual() && type.textValue().endsWith("_mtp")
                    && targetModel != null && targetName.equals(targetModel.asText());
        } catch (IOException | ConfigException e) {
            return false;
        }
    }
}
