package dev.moespec.engine.spec;

/** Receives each sequence's tokens as they are committed (streaming a batch). */
@FunctionalInterface
public interface BatchListener {
    BatchListener NONE = (sequence, id) -> {};

    /** Token {@code id} was committed to sequence {@code sequence} (its index in the batch). */
    void onToken(int sequence, int id);
}
