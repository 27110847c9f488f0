package dev.moespec.api.proposer;

import java.util.Objects;

/** Why the proposer registry refused to start or to answer; the message says what to change. */
public final class ProposerRegistryException extends RuntimeException {

    /** Machine-readable category; stable names. */
    public enum Problem {
        /** Two providers claim the same method name. */
        DUPLICATE_METHOD,
        /** A provider's method name is null or not lower_snake. */
        INVALID_METHOD_NAME,
        /** A provider listed in a services file could not be loaded, instantiated or asked its name. */
        PROVIDER_FAILED,
        /** The requested method is not registered. */
        UNKNOWN_METHOD
    }

    private final Problem problem;

    ProposerRegistryException(Problem problem, String message) {
        this(problem, message, null);
    }

    ProposerRegistryException(Problem problem, String message, Throwable cause) {
        super(message, cause);
        this.problem = Objects.requireNonNull(problem, "problem");
    }

    public Problem problem() {
        return problem;
    }
}
