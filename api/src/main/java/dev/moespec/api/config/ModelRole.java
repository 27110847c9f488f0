package dev.moespec.api.config;

/** Which model of a speculative-decoding pair a config, binding or report belongs to. */
public enum ModelRole {
    TARGET, DRAFT;

    public String label() {
        return name().toLowerCase(java.util.Locale.ROOT);
    }
}
