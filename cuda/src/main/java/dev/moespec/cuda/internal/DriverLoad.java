package dev.moespec.cuda.internal;

import java.util.Objects;

/** The outcome of loading {@code libcuda.so.1}: the bound library, or why it cannot be used. */
public sealed interface DriverLoad permits DriverLoad.Loaded, DriverLoad.Missing {

    /** The library loaded and every required symbol was found. */
    record Loaded(DriverLibrary library) implements DriverLoad {
        public Loaded {
            Objects.requireNonNull(library, "library");
        }
    }

    /** The library or one of its symbols is missing, or native access is denied; {@code reason} says which. */
    record Missing(String reason) implements DriverLoad {
        public Missing {
            Objects.requireNonNull(reason, "reason");
        }
    }
}
