package dev.moespec.moe.registry;

import java.util.List;

/** Two providers (or two auto policies) claim the same slot; {@link #locations()} are the jars involved. */
public final class DuplicateMoeBackendException extends MoeBackendRegistryException {
    private final String name;
    private final List<String> locations;

    DuplicateMoeBackendException(String name, List<String> locations, String message) {
        super(message);
        this.name = name;
        this.locations = List.copyOf(locations);
    }

    /** The duplicated backend name, or {@code "auto"} for competing auto policies. */
    public String name() {
        return name;
    }

    /** The jar files (or class directories) of both plugins. */
    public List<String> locations() {
        return locations;
    }
}
