package dev.moespec.api.config;

/**
 * A configuration that cannot be used: a missing or malformed {@code config.json}, a bad
 * {@code --speculative-config}, or a combination the validation rules reject. The message is one line
 * that names what was wrong and how to fix it, so the CLI can print it as is.
 */
public final class ConfigException extends RuntimeException {
    public ConfigException(String message) {
        super(message);
    }

    public ConfigException(String message, Throwable cause) {
        super(message, cause);
    }
}
