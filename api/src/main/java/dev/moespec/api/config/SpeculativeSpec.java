package dev.moespec.api.config;

import com.fasterxml.jackson.databind.JsonNode;
import dev.moespec.api.plugin.PluginNames;

import java.util.Iterator;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.OptionalInt;

/**
 * The {@code --speculative-config} JSON exactly as the user wrote it (snake_case keys), before any rule runs.
 * Names are normalised ({@code "FlashInfer-TRTLLM"} → {@code flashinfer_trtllm}); nothing else is inferred.
 * {@link SpeculativeConfig#resolve} applies the validation rules against a target.
 *
 * @param moeBackend         the draft's MoE backend; empty = inherit the target's {@code --moe-backend}
 * @param tensorParallelSize the trap key: kept only so that the resolver can reject it with vLLM's message
 */
public record SpeculativeSpec(Optional<String> method, Optional<String> model, OptionalInt numSpeculativeTokens,
                              Optional<String> moeBackend, Optional<String> quantization,
                              OptionalInt draftTensorParallelSize, OptionalInt tensorParallelSize,
                              OptionalInt maxModelLen, OptionalInt promptLookupMin, OptionalInt promptLookupMax,
                              OptionalInt siblingDrafts) {

    /** The keys a user may set, sorted. {@code tensor_parallel_size} is recognised only to reject it. */
    public static final List<String> KEYS = List.of("draft_tensor_parallel_size", "max_model_len", "method",
            "model", "moe_backend", "num_speculative_tokens", "prompt_lookup_max", "prompt_lookup_min",
            "quantization", "sibling_drafts");
    static final String TRAP_KEY = "tensor_parallel_size";
    private static final String WHERE = "--speculative-config";
    private static final String EXAMPLE = "; pass a JSON object such as "
            + "'{\"method\": \"ngram\", \"num_speculative_tokens\": 3}'";

    public SpeculativeSpec {
        Objects.requireNonNull(method, "method");
        Objects.requireNonNull(model, "model");
        Objects.requireNonNull(numSpeculativeTokens, "numSpeculativeTokens");
        Objects.requireNonNull(moeBackend, "moeBackend");
        Objects.requireNonNull(quantization, "quantization");
        Objects.requireNonNull(draftTensorParallelSize, "draftTensorParallelSize");
        Objects.requireNonNull(tensorParallelSize, "tensorParallelSize");
        Objects.requireNonNull(maxModelLen, "maxModelLen");
        Objects.requireNonNull(promptLookupMin, "promptLookupMin");
        Objects.requireNonNull(promptLookupMax, "promptLookupMax");
        Objects.requireNonNull(siblingDrafts, "siblingDrafts");
        method = method.map(PluginNames::normalize);
        moeBackend = moeBackend.map(KernelConfig::normalizeBackend);
    }

    /** Parses the JSON text of {@code --speculative-config}. A JSON {@code null} value means "unset". */
    public static SpeculativeSpec parse(String json) {
        JsonNode root = Json.readObject(json, "Malformed " + WHERE + " JSON", EXAMPLE);
        for (Iterator<String> it = root.fieldNames(); it.hasNext(); ) {
            String key = it.next();
            if (!KEYS.contains(key) && !key.equals(TRAP_KEY)) {
                String hint = PluginNames.closest(key, KEYS).map(k -> " (did you mean '" + k + "'?)").orElse("");
                throw new ConfigException("Unknown key '" + key + "' in " + WHERE + hint + "; valid keys: " + KEYS);
            }
        }
        JsonFields f = new JsonFields(root, WHERE);
        return new SpeculativeSpec(f.optString("method"), f.optString("model"), f.optInt("num_speculative_tokens"),
                f.optString("moe_backend"), f.optString("quantization"), f.optInt("draft_tensor_parallel_size"),
                f.optInt(TRAP_KEY), f.optInt("max_model_len"), f.optInt("prompt_lookup_min"),
                f.optInt("prompt_lookup_max"), f.optInt("sibling_drafts"));
    }
}
