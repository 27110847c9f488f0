package dev.moespec.moe.registry;

import java.util.List;
import java.util.Optional;

/** A requested backend name that no jar provides; the message lists the available names and the closest one. */
public final class UnknownMoeBackendException extends MoeBackendRegistryException {
    private final String requested;
    private final List<String> available;
    private final String suggestion;

    UnknownMoeBackendException(String requested, String source, List<String> available, Optional<String> suggestion) {
        super("Unknown MoE backend '" + requested + "' (" + source + "). Available: " + String.join(", ", available) + "."
                + suggestion.map(s -> " Did you mean '" + s + "'?").orElse(""));
        this.requested = requested;
        this.available = List.copyOf(available);
        this.suggestion = suggestion.orElse(null);
    }

    public String requested() {
        return requested;
    }

    /** Every accepted value, {@code auto} included, sorted. */
    public List<String> available() {
        return available;
    }

    public Optional<String> suggestion() {
        return Optional.ofNullable(suggestion);
    }
}
