package dev.moespec.api.config;

import dev.moespec.api.plugin.PluginNames;

import java.util.regex.Pattern;

/**
 * Kernel choices of one model (vLLM's {@code KernelConfig}).
 *
 * @param moeBackend the MoE backend plugin name, normalised like vLLM ({@code "FlashInfer-TRTLLM"} →
 *                   {@code flashinfer_trtllm}); {@code auto} lets the auto policy choose per layer. Whether a
 *                   backend of that name is installed is checked by the backend registry, not here.
 */
public record KernelConfig(String moeBackend) {

    public static final String AUTO = "auto";
    private static final Pattern NAME = Pattern.compile("[a-z0-9_]+");

    public KernelConfig {
        moeBackend = normalizeBackend(moeBackend);
    }

    /** {@code moe_backend = auto}. */
    public static KernelConfig defaults() {
        return new KernelConfig(AUTO);
    }

    public KernelConfig withMoeBackend(String backend) {
        return new KernelConfig(backend);
    }

    /** Normalises a backend name and checks that it is lower_snake; the error names the bad value. */
    static String normalizeBackend(String raw) {
        if (raw == null) throw new ConfigException("moe_backend must not be null; use \"auto\" to let moespec choose");
        String name = PluginNames.normalize(raw);
        if (!NAME.matcher(name).matches()) {
            throw new ConfigException("moe_backend '" + raw + "' is not a backend name; names are lower_snake"
                    + " (letters, digits, '_'), e.g. auto, triton, flashinfer_trtllm");
        }
        return name;
    }
}
