package dev.moespec.moe;

import dev.moespec.api.tensor.Tensor;

import java.util.Objects;
import java.util.Optional;

/**
 * One MoE layer's expert weights in Hugging Face layout, host memory.
 *
 * <ul>
 *   <li>{@code w13}: {@code [E, 2I, H]}, gate rows then up rows; BF16, F16, F32 or FP8_E4M3.</li>
 *   <li>{@code w2}: {@code [E, H, I]}; same dtype as {@code w13}.</li>
 *   <li>scales (FP8 only, F32, multiply to dequantise): per-tensor {@code [E]}; per-channel {@code [E, 2I]} and
 *       {@code [E, H]}; block-128 {@code [E, ceil(2I/128), ceil(H/128)]} and {@code [E, ceil(H/128), ceil(I/128)]}
 *       (HF {@code weight_scale_inv}).</li>
 * </ul>
 */
public record MoeWeights(Tensor w13, Tensor w2, Optional<Tensor> w13Scale, Optional<Tensor> w2Scale) {
    public MoeWeights {
        Objects.requireNonNull(w13, "w13");
        Objects.requireNonNull(w2, "w2");
        Objects.requireNonNull(w13Scale, "w13Scale");
        Objects.requireNonNull(w2Scale, "w2Scale");
    }

    public static MoeWeights unquantized(Tensor w13, Tensor w2) {
        return new MoeWeights(w13, w2, Optional.empty(), Optional.empty());
    }

    public static MoeWeights fp8(Tensor w13, Tensor w2, Tensor w13Scale, Tensor w2Scale) {
        return new MoeWeights(w13, w2, Optional.of(w13Scale), Optional.of(w2Scale));
    }
}
