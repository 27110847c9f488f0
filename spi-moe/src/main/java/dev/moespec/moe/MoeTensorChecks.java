package dev.moespec.moe;

import dev.moespec.api.config.QuantScheme;
import dev.moespec.api.tensor.DType;
import dev.moespec.api.tensor.Tensor;

import java.util.Arrays;
import java.util.Set;
import java.util.stream.Collectors;

/**
 * Argument checks every {@link MoeKernel} needs before it launches anything, with messages that name the
 * tensor, the expected and the actual shape or dtype. Shared so that every backend refuses the same inputs
 * with the same words (the conformance kit checks that they refuse them).
 */
public final class MoeTensorChecks {
    private MoeTensorChecks() {}

    /**
     * The dtype activations ({@code hidden}, {@code out}) have for {@code quant}: BF16 for BF16 and every FP8
     * scheme (FP8 activations are quantised inside the kernel), F16 for FP16.
     */
    public static DType activationDType(QuantScheme quant) {
        return quant == QuantScheme.FP16 ? DType.F16 : DType.BF16;
    }

    /**
     * Validates a {@link MoeKernel#forward} call and returns M.
     *
     * @param activationDTypes dtypes the kernel accepts for {@code hidden} and {@code out} (both must be equal)
     * @param placement        where the kernel expects its tensors
     * @throws IllegalArgumentException naming the first offending tensor
     */
    public static int checkForward(MoeLayerSpec layer, Tensor hidden, Tensor routerLogits, Tensor out,
                                   Set<DType> activationDTypes, Tensor.Placement placement) {
        requirePlacement("hidden", hidden, placement);
        requirePlacement("routerLogits", routerLogits, placement);
        requirePlacement("out", out, placement);
        if (hidden.rank() != 2 || hidden.dim(1) != layer.hiddenSize()) {
            throw new IllegalArgumentException("hidden must be [M, " + layer.hiddenSize() + "] for layer "
                    + layer.describe() + ", got " + hidden.describe());
        }
        long m = hidden.dim(0);
        if (m > layer.maxTokens()) {
            throw new IllegalArgumentException("hidden has M=" + m + " tokens but the layer was built for at most maxTokens="
                    + layer.maxTokens() + "; split the batch or create the kernel with MoeLayerSpec.withMaxTokens(" + m + ")");
        }
        requireShape("routerLogits", routerLogits, m, layer.numExperts());
        requireShape("out", out, m, layer.hiddenSize());
        if (!activationDTypes.contains(hidden.dtype())) {
            throw new IllegalArgumentException("hidden must be " + names(activationDTypes) + " for a "
                    + layer.quant().cliName() + " layer, got " + hidden.describe());
        }
        if (out.dtype() != hidden.dtype()) {
            throw new IllegalArgumentException("out must have hidden's dtype " + hidden.dtype() + ", got " + out.describe());
        }
        if (routerLogits.dtype() != DType.F32 && routerLogits.dtype() != DType.BF16) {
            throw new IllegalArgumentException("routerLogits must be F32 or BF16, got " + routerLogits.describe());
        }
        return Math.toIntExact(m);
    }

    /** Requires {@code t} to be exactly {@code name: shape}, any dtype. */
    public static void requireShape(String name, Tensor t, long... shape) {
        if (!Arrays.equals(t.shape(), shape)) {
            throw new IllegalArgumentException(name + " must be " + Arrays.toString(shape) + ", got " + t.describe());
        }
    }

    private static void requirePlacement(String name, Tensor t, Tensor.Placement placement) {
        if (t.placement() != placement) {
            throw new IllegalArgumentException(name + " must be a " + placement.name().toLowerCase(java.util.Locale.ROOT)
                    + " tensor for this backend, got " + t.describe());
        }
    }

    private static String names(Set<DType> dtypes) {
        return dtypes.stream().map(DType::name).sorted().collect(Collectors.joining(" or "));
    }
}
