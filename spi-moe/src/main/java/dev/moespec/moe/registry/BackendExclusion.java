package dev.moespec.moe.registry;

import dev.moespec.api.plugin.PluginNames;

import java.util.Arrays;
import java.util.LinkedHashSet;
import java.util.Set;
import java.util.function.Function;
import java.util.stream.Collectors;

/**
 * The backends an operator switched off without removing their jars, and where that was said (for messages).
 *
 * @param names  normalised backend names
 * @param source the setting as the operator wrote it ({@code -Dmoespec.moe.exclude=triton}), or "" when none
 */
record BackendExclusion(Set<String> names, String source) {
    static final String PROPERTY = "moespec.moe.exclude";
    static final String ENV = "MOESPEC_MOE_EXCLUDE";

    BackendExclusion {
        names = java.util.Collections.unmodifiableSet(new LinkedHashSet<>(names)); // keeps the operator's order for messages
    }

    /** The system property wins over the environment variable; blank values count as unset. */
    static BackendExclusion fromSettings(Function<String, String> properties, Function<String, String> env) {
        String property = properties.apply(PROPERTY);
        if (property != null && !property.isBlank()) return parse(property, "-D" + PROPERTY + "=" + property.strip());
        String fromEnv = env.apply(ENV);
        if (fromEnv != null && !fromEnv.isBlank()) return parse(fromEnv, ENV + "=" + fromEnv.strip());
        return new BackendExclusion(Set.of(), "");
    }

    static BackendExclusion of(Set<String> names) {
        Set<String> normalized = names.stream().map(PluginNames::normalize).collect(Collectors.toCollection(java.util.TreeSet::new));
        return new BackendExclusion(normalized, normalized.isEmpty() ? "" : "the registry's exclusion set " + normalized);
    }

    private static BackendExclusion parse(String value, String source) {
        Set<String> names = Arrays.stream(value.split(","))
                .filter(s -> !s.isBlank())
                .map(PluginNames::normalize)
                .collect(Collectors.toCollection(LinkedHashSet::new));
        return new BackendExclusion(names, source);
    }

    String describe() {
        return source.isEmpty() ? "nothing excluded" : "excluded by " + source;
    }
}
