package dev.moespec.moe;

import dev.moespec.api.config.QuantScheme;

import java.util.Objects;

/**
 * The shape and numerics of one MoE layer — everything a backend needs to decide eligibility and to
 * build a kernel. Weight layout is Hugging Face's: {@code w13[E, 2I, H]} (gate rows, then up rows) and
 * {@code w2[E, H, I]}.
 *
 * @param numExperts        E
 * @param topK              experts per token
 * @param hiddenSize        H
 * @param intermediateSize  I (per expert)
 * @param activation        the gated activation between the two GEMMs
 * @param routing           how router logits become top-k ids and weights
 * @param quant             weight (and activation) quantization
 * @param maxTokens         the largest M a single forward call accepts; workspaces are sized from it
 */
public record MoeLayerSpec(int numExperts, int topK, int hiddenSize, int intermediateSize,
                           Activation activation, Routing routing, QuantScheme quant, int maxTokens) {

    public MoeLayerSpec {
        Objects.requireNonNull(activation, "activation");
        Objects.requireNonNull(routing, "routing");
        Objects.requireNonNull(quant, "quant");
        if (numExperts < 1) throw new IllegalArgumentException("numExperts must be >= 1, got " + numExperts);
        if (topK < 1 || topK > numExperts)
            throw new IllegalArgumentException("topK must be in [1, numExperts=" + numExperts + "], got " + topK);
        if (hiddenSize < 1) throw new IllegalArgumentException("hiddenSize must be >= 1, got " + hiddenSize);
        if (intermediateSize < 1) throw new IllegalArgumentException("intermediateSize must be >= 1, got " + intermediateSize);
        if (maxTokens < 1) throw new IllegalArgumentException("maxTokens must be >= 1, got " + maxTokens);
    }

    public MoeLayerSpec withQuant(QuantScheme q) {
        return new MoeLayerSpec(numExperts, topK, hiddenSize, intermediateSize, activation, routing, q, maxTokens);
    }

    public MoeLayerSpec withMaxTokens(int m) {
        return new MoeLayerSpec(numExperts, topK, hiddenSize, intermediateSize, activation, routing, quant, m);
    }

    /** One line for reports: {@code E=16 top-4 H=256 I=128 silu softmax-renorm fp8_block_128}. */
    public String describe() {
        return "E=%d top-%d H=%d I=%d %s %s %s".formatted(numExperts, topK, hiddenSize, intermediateSize,
                activation.name().toLowerCase(java.util.Locale.ROOT), routing.describe(), quant.cliName());
    }

    /** The gated activation {@code act(gate) * up}. */
    public enum Activation { SILU }
}
