package dev.moespec.api.config;

import com.fasterxml.jackson.databind.JsonNode;

import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Objects;

/**
 * How a checkpoint's weights are quantized, as far as the MoE layers care.
 *
 * @param method              {@code "none"} (unquantized) or {@code "fp8"}
 * @param moeScheme           the scheme MoE backends declare eligibility in
 * @param activationScheme    {@code "dynamic"} or {@code "static"} for FP8; {@code "none"} when unquantized
 * @param weightBlockSize     {@code [128, 128]} for block FP8, else empty
 * @param modulesToNotConvert module-name prefixes the checkpoint keeps unquantized (router gates, lm_head, ...)
 */
public record QuantConfig(String method, QuantScheme moeScheme, String activationScheme,
                          List<Integer> weightBlockSize, List<String> modulesToNotConvert) {

    public static final String NONE = "none";
    public static final String FP8 = "fp8";
    /** Values accepted by {@link #forName}: the {@code quantization} key and {@code --quantization}. */
    public static final List<String> NAMES = List.of(FP8, NONE);

    private static final List<Integer> BLOCK_128 = List.of(128, 128);

    public QuantConfig {
        Objects.requireNonNull(method, "method");
        Objects.requireNonNull(moeScheme, "moeScheme");
        Objects.requireNonNull(activationScheme, "activationScheme");
        weightBlockSize = List.copyOf(weightBlockSize);
        modulesToNotConvert = List.copyOf(modulesToNotConvert);
        if (method.equals(NONE) == moeScheme.isFp8()) {
            throw new IllegalArgumentException("quant method '" + method + "' does not match scheme " + moeScheme);
        }
    }

    /** Unquantized weights in {@code scheme} (BF16 or FP16). */
    public static QuantConfig none(QuantScheme scheme) {
        if (scheme.isFp8()) {
            throw new IllegalArgumentException(scheme + " is quantized; QuantConfig.none takes BF16 or FP16");
        }
        return new QuantConfig(NONE, scheme, NONE, List.of(), List.of());
    }

    public boolean isQuantized() {
        return !method.equals(NONE);
    }

    /**
     * Reads a Hugging Face {@code quantization_config} object.
     *
     * @param quantizationConfig the object, or null / JSON null when the checkpoint is unquantized
     * @param torchDtype         the checkpoint's {@code torch_dtype}; picks BF16 or FP16 for unquantized weights
     * @param configFile         named in error messages
     */
    public static QuantConfig fromHf(JsonNode quantizationConfig, String torchDtype, Path configFile) {
        if (quantizationConfig == null || quantizationConfig.isNull() || quantizationConfig.isMissingNode()) {
            return none(unquantizedScheme(torchDtype, configFile));
        }
        JsonFields q = new JsonFields(quantizationConfig, "quantization_config of " + configFile);
        String method = q.optString("quant_method").map(s -> s.toLowerCase(Locale.ROOT)).orElseThrow(() ->
                new ConfigException(configFile + ": quantization_config has no 'quant_method'; add \"quant_method\": \"fp8\""
                        + " or remove quantization_config for an unquantized checkpoint"));
        if (!method.equals(FP8)) {
            throw new ConfigException(configFile + ": quantization_config.quant_method '" + method
                    + "' is not supported; supported: [fp8] (or an unquantized BF16/FP16 checkpoint)");
        }
        String activation = q.optString("activation_scheme").orElse("dynamic");
        List<Integer> block = q.intList("weight_block_size");
        List<String> keep = q.stringList("modules_to_not_convert");
        QuantScheme scheme;
        if (!block.isEmpty()) {
            if (!block.equals(BLOCK_128)) {
                throw new ConfigException(configFile + ": weight_block_size " + block + " is not supported; FP8 block"
                        + " quantization needs [128, 128] (re-quantize the checkpoint with 128x128 blocks)");
            }
            scheme = QuantScheme.FP8_BLOCK_128;
        } else {
            String strategy = q.optString("weight_quant_strategy").or(() -> q.optString("strategy")).orElse("tensor");
            scheme = switch (strategy.toLowerCase(Locale.ROOT)) {
                case "tensor" -> QuantScheme.FP8_PER_TENSOR;
                case "channel" -> QuantScheme.FP8_PER_CHANNEL;
                default -> throw new ConfigException(configFile + ": FP8 weight strategy '" + strategy
                        + "' is not supported; use \"tensor\" or \"channel\", or weight_block_size [128, 128]");
            };
        }
        return new QuantConfig(FP8, scheme, activation, block, keep);
    }

    /**
     * The quantization a model runs with when the user names one ({@code --quantization}, or {@code quantization}
     * in {@code --speculative-config}). {@code null} keeps the checkpoint's own. {@code "fp8"} keeps an FP8
     * checkpoint's scheme and quantizes an unquantized one online (per-tensor, dynamic activations, as vLLM does).
     * {@code "none"} requires an unquantized checkpoint: FP8 weights cannot be read as BF16.
     */
    public static QuantConfig forName(String quantization, ModelConfig checkpoint) {
        QuantConfig own = checkpoint.quantization();
        if (quantization == null) return own;
        String name = quantization.strip().toLowerCase(Locale.ROOT);
        return switch (name) {
            case FP8 -> own.isQuantized() ? own
                    : new QuantConfig(FP8, QuantScheme.FP8_PER_TENSOR, "dynamic", List.of(), List.of());
            case NONE -> {
                if (own.isQuantized()) {
                    throw new ConfigException("quantization 'none' conflicts with " + checkpoint.configFile()
                            + ", which is quantized with " + own.method() + " (" + own.moeScheme().cliName()
                            + "); drop 'quantization' or use an unquantized checkpoint");
                }
                yield own;
            }
            default -> throw unknownName(quantization);
        };
    }

    /** Throws the {@link #forName} error for an unknown name without needing a checkpoint. */
    static void checkName(String quantization) {
        if (!NAMES.contains(quantization.strip().toLowerCase(Locale.ROOT))) throw unknownName(quantization);
    }

    private static ConfigException unknownName(String quantization) {
        return new ConfigException("Unknown quantization '" + quantization + "'; valid values: "
                + NAMES + " (omit it to use the checkpoint's own quantization_config)");
    }

    private static QuantScheme unquantizedScheme(String torchDtype, Path configFile) {
        // float32 checkpoints run in bf16, like vLLM's dtype=auto on GPUs that support it.
        return switch (torchDtype.toLowerCase(Locale.ROOT)) {
            case "bfloat16", "float32", "float" -> QuantScheme.BF16;
            case "float16", "half" -> QuantScheme.FP16;
            default -> throw new ConfigException(configFile + ": torch_dtype '" + torchDtype
                    + "' is not supported for unquantized weights; expected bfloat16, float16 or float32");
        };
    }
}
