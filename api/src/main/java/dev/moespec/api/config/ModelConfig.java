package dev.moespec.api.config;

import com.fasterxml.jackson.databind.JsonNode;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.OptionalDouble;
import java.util.OptionalInt;

/**
 * A model checkpoint's Hugging Face {@code config.json}, reduced to what moespec uses. Qwen3-MoE, Mixtral and
 * DeepSeek spell the MoE fields differently; they are unified here.
 *
 * @param path                   the checkpoint directory (absolute, normalised)
 * @param architecture           first entry of {@code architectures}, or "" when the file has none
 * @param modelType              {@code model_type}
 * @param intermediateSize       dense MLP size ({@code intermediate_size}), 0 if absent
 * @param numExperts             routed experts per MoE layer ({@code num_experts} / {@code num_local_experts} /
 *                               {@code n_routed_experts}); 0 means the model has no MoE layers
 * @param moeIntermediateSize    per-expert size ({@code moe_intermediate_size}; Mixtral's {@code intermediate_size})
 * @param normTopkProb           renormalise the top-k router weights (default true for Mixtral, else false, like HF)
 * @param scoringFunc            router scoring: {@code softmax} (default) or {@code sigmoid} (DeepSeek-V3)
 * @param nPredict               tokens a speculative head predicts per step: {@code n_predict} or
 *                               {@code num_nextn_predict_layers}; empty when absent or 0
 * @param torchDtype             {@code torch_dtype} (or the newer {@code dtype}); "bfloat16" when absent
 * @param speculativeMethod      {@code speculative.method} of a demo head checkpoint (eagle, mtp, medusa)
 * @param speculativeTargetModel {@code speculative.target_model}: the directory name of the target it was trained for
 */
public record ModelConfig(Path path, String architecture, String modelType, int hiddenSize, int numHiddenLayers,
                          int numAttentionHeads, int numKeyValueHeads, int headDim, int vocabSize,
                          int maxPositionEmbeddings, double rmsNormEps, double ropeTheta, boolean tieWordEmbeddings,
                          int intermediateSize, int numExperts, int numExpertsPerTok, int moeIntermediateSize,
                          boolean normTopkProb, String scoringFunc, OptionalInt nGroup, OptionalInt topkGroup,
                          OptionalDouble routedScalingFactor, OptionalInt nPredict, String torchDtype,
                          Optional<String> speculativeMethod, Optional<String> speculativeTargetModel,
                          QuantConfig quantization) {

    public static final String CONFIG_FILE = "config.json";

    public ModelConfig {
        Objects.requireNonNull(path, "path");
        Objects.requireNonNull(architecture, "architecture");
        Objects.requireNonNull(modelType, "modelType");
        Objects.requireNonNull(scoringFunc, "scoringFunc");
        Objects.requireNonNull(torchDtype, "torchDtype");
        Objects.requireNonNull(nGroup, "nGroup");
        Objects.requireNonNull(topkGroup, "topkGroup");
        Objects.requireNonNull(routedScalingFactor, "routedScalingFactor");
        Objects.requireNonNull(nPredict, "nPredict");
        Objects.requireNonNull(speculativeMethod, "speculativeMethod");
        Objects.requireNonNull(speculativeTargetModel, "speculativeTargetModel");
        Objects.requireNonNull(quantization, "quantization");
        if (hiddenSize <= 0 || vocabSize <= 0 || maxPositionEmbeddings <= 0) {
            throw new IllegalArgumentException("hidden size, vocab size and max positions must be > 0");
        }
        if (numExperts < 0 || numExpertsPerTok < 0 || numExpertsPerTok > numExperts) {
            throw new IllegalArgumentException("need 0 <= num_experts_per_tok <= num_experts");
        }
    }

    /** Reads {@code modelDir/config.json}. */
    public static ModelConfig load(Path modelDir) {
        Path dir = modelDir.toAbsolutePath().normalize();
        if (!Files.exists(dir)) {
            throw new ConfigException("Model directory not found: " + dir
                    + "; pass the checkpoint directory that holds config.json and the *.safetensors files");
        }
        if (!Files.isDirectory(dir)) {
            throw new ConfigException("Not a directory: " + dir
                    + "; pass the checkpoint directory that holds config.json, not a file inside it");
        }
        Path file = dir.resolve(CONFIG_FILE);
        if (!Files.isRegularFile(file)) {
            throw new ConfigException("No config.json in " + dir
                    + "; a Hugging Face checkpoint directory needs one (is this the right directory?)");
        }
        String text;
        try {
            text = Files.readString(file);
        } catch (IOException e) {
            throw new ConfigException("Cannot read " + file + ": " + e.getMessage() + "; check its permissions", e);
        }
        JsonNode root = Json.readObject(text, "Invalid JSON in " + file, "; fix the file or re-download the checkpoint");
        return parse(dir, file, root);
    }

    private static ModelConfig parse(Path dir, Path file, JsonNode root) {
        JsonFields f = new JsonFields(root, file.toString());
        String modelType = required(f.optString("model_type"), "model_type", file);
        int hidden = required(f.optInt("hidden_size"), "hidden_size", file);
        int vocab = required(f.optInt("vocab_size"), "vocab_size", file);
        int maxPos = required(f.optInt("max_position_embeddings"), "max_position_embeddings", file);
        int heads = f.optInt("num_attention_heads").orElse(0);
        int intermediate = f.optInt("intermediate_size").orElse(0);

        // Qwen3 / Qwen2: num_experts; Mixtral: num_local_experts; DeepSeek: n_routed_experts.
        int experts = f.optInt("num_experts")
                .orElse(f.optInt("num_local_experts").orElse(f.optInt("n_routed_experts").orElse(0)));
        int perTok = experts == 0 ? 0 : f.optInt("num_experts_per_tok").orElse(0);
        if (experts > 0 && perTok <= 0) {
            throw new ConfigException(file + " declares " + experts
                    + " experts but no 'num_experts_per_tok'; add the router's top-k to the file");
        }
        if (perTok > experts) {
            throw new ConfigException(file + ": num_experts_per_tok " + perTok + " exceeds the " + experts
                    + " experts; fix one of the two values");
        }
        int moeIntermediate = experts == 0 ? f.optInt("moe_intermediate_size").orElse(0)
                : f.optInt("moe_intermediate_size").orElse(intermediate); // Mixtral: intermediate_size is per expert

        OptionalInt nPredict = f.optInt("n_predict");
        if (nPredict.isEmpty()) nPredict = f.optInt("num_nextn_predict_layers");
        if (nPredict.isPresent() && nPredict.getAsInt() <= 0) nPredict = OptionalInt.empty();

        String dtype = f.optString("torch_dtype").or(() -> f.optString("dtype")).orElse("bfloat16");
        Optional<JsonFields> spec = f.optObject("speculative");
        double ropeTheta = f.optDouble("rope_theta").orElse(f.optObject("rope_parameters")
                .map(r -> r.optDouble("rope_theta").orElse(10000.0)).orElse(10000.0));
        List<String> archs = f.stringList("architectures");

        return new ModelConfig(dir, archs.isEmpty() ? "" : archs.getFirst(), modelType, hidden,
                f.optInt("num_hidden_layers").orElse(0), heads, f.optInt("num_key_value_heads").orElse(heads),
                f.optInt("head_dim").orElse(heads > 0 ? hidden / heads : 0), vocab, maxPos,
                f.optDouble("rms_norm_eps").orElse(1e-6), ropeTheta,
                f.optBool("tie_word_embeddings").orElse(false), intermediate, experts, perTok, moeIntermediate,
                f.optBool("norm_topk_prob").orElse(modelType.equals("mixtral")),
                f.optString("scoring_func").orElse("softmax"), f.optInt("n_group"), f.optInt("topk_group"),
                f.optDouble("routed_scaling_factor"), nPredict, dtype,
                spec.flatMap(s -> s.optString("method")), spec.flatMap(s -> s.optString("target_model")),
                QuantConfig.fromHf(root.get("quantization_config"), dtype, file));
    }

    private static <T> T required(Optional<T> value, String key, Path file) {
        return value.orElseThrow(() -> missing(key, file));
    }

    private static int required(OptionalInt value, String key, Path file) {
        return value.orElseThrow(() -> missing(key, file));
    }

    private static ConfigException missing(String key, Path file) {
        return new ConfigException(file + " has no '" + key + "'; every Hugging Face config.json must set it"
                + " (is the checkpoint complete? re-download it or add the field)");
    }

    /** {@code path/config.json}. */
    public Path configFile() {
        return path.resolve(CONFIG_FILE);
    }

    /** The checkpoint directory's name, e.g. {@code demo-target}. */
    public String name() {
        return path.getFileName().toString();
    }

    /** Whether the model has routed-expert layers. */
    public boolean hasMoeLayers() {
        return numExperts > 0;
    }
}
