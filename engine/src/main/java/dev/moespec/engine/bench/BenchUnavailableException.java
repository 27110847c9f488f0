package dev.moespec.engine.bench;

/** The benchmark cannot run at all as asked (a GPU backend on a machine without a GPU); the message says what to do. */
public final class BenchUnavailableException extends IllegalStateException {
    public BenchUnavailableException(String message) {
        super(message);
    }
}
