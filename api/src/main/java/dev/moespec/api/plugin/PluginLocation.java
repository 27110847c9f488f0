package dev.moespec.api.plugin;

import java.net.URISyntaxException;
import java.nio.file.Path;
import java.security.CodeSource;

/** Where a plugin class was loaded from, for error messages that a user can act on. */
public final class PluginLocation {
    private PluginLocation() {}

    /** The jar file (or classes directory) holding {@code type}, or {@code "<unknown location>"}. */
    public static String of(Class<?> type) {
        CodeSource source = type.getProtectionDomain().getCodeSource();
        if (source == null || source.getLocation() == null) {
            return "<unknown location>";
        }
        try {
            return Path.of(source.getLocation().toURI()).toString();
        } catch (URISyntaxException | IllegalArgumentException e) {
            return source.getLocation().toString();
        }
    }
}
