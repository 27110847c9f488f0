package dev.moespec.engine.loader;

import java.nio.file.Path;
import java.util.Optional;

/**
 * A checkpoint that cannot be used: a corrupt or truncated safetensors file, a header that lies about its data,
 * a tensor the architecture needs that is missing or has the wrong shape. The message names the file and, where
 * one is to blame, the tensor, and says how to fix it.
 */
public final class CheckpointException extends RuntimeException {
    private final transient Path file;
    private final String tensor;

    public CheckpointException(Path file, String tensor, String message) {
        super(file + (tensor == null ? "" : ", tensor '" + tensor + "'") + ": " + message);
        this.file = file;
        this.tensor = tensor;
    }

    public CheckpointException(Path file, String tensor, String message, Throwable cause) {
        this(file, tensor, message);
        initCause(cause);
    }

    /** The file at fault. */
    public Path file() {
        return file;
    }

    /** The tensor at fault, when one is. */
    public Optional<String> tensor() {
        return Optional.ofNullable(tensor);
    }
}
