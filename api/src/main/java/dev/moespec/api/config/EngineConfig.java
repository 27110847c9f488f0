package dev.moespec.api.config;

import java.nio.file.Path;
import java.util.Objects;
import java.util.Optional;

/**
 * Everything one model is built from (vLLM's {@code VllmConfig}). The target and the draft are each described
 * by one; {@link SpecDecodeConfigs} derives the draft's from the target's. Immutable: the {@code with*} methods
 * return copies.
 *
 * @param model       the checkpoint's config.json
 * @param quant       the quantization the model runs with
 * @param parallel    how the model is split over GPUs
 * @param kernel      kernel choices ({@code moe_backend})
 * @param speculative the speculative-decoding config, when speculation is on
 * @param maxModelLen the longest sequence served (default: the model's {@code max_position_embeddings})
 */
public record EngineConfig(ModelConfig model, QuantConfig quant, ParallelConfig parallel, KernelConfig kernel,
                           Optional<SpeculativeConfig> speculative, int maxModelLen) {

    public EngineConfig {
        Objects.requireNonNull(model, "model");
        Objects.requireNonNull(quant, "quant");
        Objects.requireNonNull(parallel, "parallel");
        Objects.requireNonNull(kernel, "kernel");
        Objects.requireNonNull(speculative, "speculative");
        if (maxModelLen < 1) throw new ConfigException("max_model_len must be >= 1, got " + maxModelLen);
    }

    public static Builder builder(ModelConfig model) {
        return new Builder(model);
    }

    public EngineConfig withModel(ModelConfig newModel) {
        return new EngineConfig(newModel, quant, parallel, kernel, speculative, maxModelLen);
    }

    public EngineConfig withQuant(QuantConfig newQuant) {
        return new EngineConfig(model, newQuant, parallel, kernel, speculative, maxModelLen);
    }

    public EngineConfig withParallel(ParallelConfig newParallel) {
        return new EngineConfig(model, quant, newParallel, kernel, speculative, maxModelLen);
    }

    public EngineConfig withKernel(KernelConfig newKernel) {
        return new EngineConfig(model, quant, parallel, newKernel, speculative, maxModelLen);
    }

    public EngineConfig withSpeculative(Optional<SpeculativeConfig> newSpeculative) {
        return new EngineConfig(model, quant, parallel, kernel, newSpeculative, maxModelLen);
    }

    public EngineConfig withMaxModelLen(int newMaxModelLen) {
        return new EngineConfig(model, quant, parallel, kernel, speculative, newMaxModelLen);
    }

    /**
     * Builds a target's config from command-line style values and validates the speculative config against it.
     * Every setter is optional; unset values take the defaults documented on {@link EngineConfig}.
     */
    public static final class Builder {
        private final ModelConfig model;
        private String quantization;
        private String moeBackend = KernelConfig.AUTO;
        private int tensorParallelSize = 1;
        private int pipelineParallelSize = 1;
        private int rank;
        private Integer maxModelLen;
        private String speculativeConfigJson;
        private Path workingDirectory = Path.of("");

        private Builder(ModelConfig model) {
            this.model = Objects.requireNonNull(model, "model");
        }

        /** {@code --quantization}: "fp8", "none", or null for the checkpoint's own. */
        public Builder quantization(String value) {
            this.quantization = value;
            return this;
        }

        /** {@code --moe-backend}, normalised; default {@code auto}. */
        public Builder moeBackend(String value) {
            this.moeBackend = value;
            return this;
        }

        public Builder tensorParallelSize(int value) {
            this.tensorParallelSize = value;
            return this;
        }

        public Builder pipelineParallelSize(int value) {
            this.pipelineParallelSize = value;
            return this;
        }

        public Builder rank(int value) {
            this.rank = value;
            return this;
        }

        /** At most the model's {@code max_position_embeddings}. */
        public Builder maxModelLen(int value) {
            this.maxModelLen = value;
            return this;
        }

        /** The {@code --speculative-config} JSON text; null turns speculation off. */
        public Builder speculativeConfigJson(String json) {
            this.speculativeConfigJson = json;
            return this;
        }

        /** Where a relative {@code model} path in the speculative config is looked up first; default the process's. */
        public Builder workingDirectory(Path dir) {
            this.workingDirectory = Objects.requireNonNull(dir, "dir");
            return this;
        }

        public EngineConfig build() {
            int limit = model.maxPositionEmbeddings();
            int len = maxModelLen == null ? limit : maxModelLen;
            if (len > limit) {
                throw new ConfigException("max_model_len " + len + " exceeds max_position_embeddings " + limit
                        + " of " + model.configFile() + "; pass a value <= " + limit);
            }
            EngineConfig target = new EngineConfig(model, QuantConfig.forName(quantization, model),
                    new ParallelConfig(tensorParallelSize, pipelineParallelSize, rank), new KernelConfig(moeBackend),
                    Optional.empty(), len);
            if (speculativeConfigJson == null) return target;
            SpeculativeSpec spec = SpeculativeSpec.parse(speculativeConfigJson);
            return target.withSpeculative(Optional.of(SpeculativeConfig.resolve(spec, target, workingDirectory)));
        }
    }
}
