package dev.moespec.engine.model;

/** A request that needs more KV-cache memory than is free; the message gives the numbers and the fix. */
public final class KvCacheCapacityException extends RuntimeException {
    public KvCacheCapacityException(String message) {
        super(message);
    }
}
