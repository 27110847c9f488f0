package dev.moespec.engine.moe;

import dev.moespec.api.config.ModelConfig;
import dev.moespec.api.config.QuantConfig;
import dev.moespec.moe.MoeLayerSpec;
import dev.moespec.moe.Routing;

import java.util.Locale;
import java.util.Optional;

/** Derives the {@link MoeLayerSpec} a checkpoint's MoE layers need from its HF config and quantization. */
public final class MoeLayerSpecs {
    /** Largest number of tokens one forward call carries (vLLM's default max_num_batched_tokens). */
    public static final int DEFAULT_MAX_TOKENS = 8192;

    private MoeLayerSpecs() {}

    /** The spec of {@code model}'s MoE layers with {@code quant}, or empty when the model has none (a dense head). */
    public static Optional<MoeLayerSpec> of(ModelConfig model, QuantConfig quant, int maxTokens) {
        if (!model.hasMoeLayers()) {
            return Optional.empty();
        }
        return Optional.of(new MoeLayerSpec(model.numExperts(), model.numExpertsPerTok(), model.hiddenSize(),
                model.moeIntermediateSize(), MoeLayerSpec.Activation.SILU, routing(model), quant.moeScheme(), maxTokens));
    }

    private static Routing routing(ModelConfig model) {
        if ("sigmoid".equals(model.scoringFunc().toLowerCase(Locale.ROOT))) {
            // the correction bias is a weight; planning needs only its shape, the loader supplies the values
            return new Routing.SigmoidGroupedTopK(model.nGroup().orElse(1), model.topkGroup().orElse(1),
                    model.normTopkProb(), (float) model.routedScalingFactor().orElse(1.0), new float[model.numExperts()]);
        }
        return new Routing.SoftmaxTopK(model.normTopkProb());
    }
}
