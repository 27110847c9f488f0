package dev.moespec.cuda;

import java.util.Objects;

/** Whether cuBLAS can be used in this process: {@link Available} (and from where) or {@link Unavailable} with the reason. */
public sealed interface CublasAvailability permits CublasAvailability.Available, CublasAvailability.Unavailable {

    /** cuBLAS loaded from {@code library} and every function moespec binds was found. */
    record Available(String library) implements CublasAvailability {
        public Available {
            Objects.requireNonNull(library, "library");
        }
    }

    /** cuBLAS (or CUDA itself) cannot be used; {@code reason} says why and how to fix it. */
    record Unavailable(String reason) implements CublasAvailability {
        public Unavailable {
            Objects.requireNonNull(reason, "reason");
        }
    }
}
