package dev.moespec.api.config;

import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

/** The bundled demo models (surefire runs in the api module, so they are at ../models) and temp-dir configs. */
final class TestModels {
    private TestModels() {}

    static final Path DIR = Path.of("..", "models").toAbsolutePath().normalize();
    static final Path TARGET = DIR.resolve("demo-target");
    static final Path DRAFT = DIR.resolve("demo-draft");
    static final Path EAGLE = DIR.resolve("demo-eagle");
    static final Path MTP = DIR.resolve("demo-mtp");
    static final Path MEDUSA = DIR.resolve("demo-medusa");

    static ModelConfig target() {
        return ModelConfig.load(TARGET);
    }

    /** A target config for the demo target, no speculation. */
    static EngineConfig targetConfig(String moeBackend, int tp) {
        return EngineConfig.builder(target()).moeBackend(moeBackend).tensorParallelSize(tp).build();
    }

    /** The demo target with {@code json} as its speculative config, resolved from the api module directory. */
    static EngineConfig withSpec(String json) {
        return EngineConfig.builder(target()).speculativeConfigJson(json).build();
    }

    /** A small valid Qwen3-MoE config.json in {@code dir}, with {@code overrides} replacing or adding keys. */
    static Path writeConfig(Path dir, Map<String, ?> overrides) {
        Map<String, Object> cfg = new LinkedHashMap<>();
        cfg.put("architectures", new String[] {"Qwen3MoeForCausalLM"});
        cfg.put("model_type", "qwen3_moe");
        cfg.put("hidden_size", 256);
        cfg.put("num_hidden_layers", 1);
        cfg.put("num_attention_heads", 8);
        cfg.put("num_key_value_heads", 2);
        cfg.put("vocab_size", 320);
        cfg.put("max_position_embeddings", 2048);
        cfg.put("num_experts", 8);
        cfg.put("num_experts_per_tok", 2);
        cfg.put("moe_intermediate_size", 128);
        cfg.put("torch_dtype", "bfloat16");
        cfg.putAll(overrides);
        cfg.values().removeIf(v -> v == REMOVE);
        try {
            Files.createDirectories(dir);
            Files.writeString(dir.resolve("config.json"), new ObjectMapper().writeValueAsString(cfg));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return dir;
    }

    /** Put as an override value to drop a key from the written config. */
    static final Object REMOVE = new Object();

    static Path writeRaw(Path dir, String text) {
        try {
            Files.createDirectories(dir);
            Files.writeString(dir.resolve("config.json"), text);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return dir;
    }
}
