package dev.moespec.moe.registry;

/**
 * The MoE backends on the classpath cannot be used as they are: a provider failed to load, has an invalid or
 * duplicate name, or a requested name is unknown. The message says which jar to fix or remove.
 */
public class MoeBackendRegistryException extends RuntimeException {
    public MoeBackendRegistryException(String message) {
        super(message);
    }

    public MoeBackendRegistryException(String message, Throwable cause) {
        super(message, cause);
    }
}
