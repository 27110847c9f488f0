package dev.moespec.engine.model;

import dev.moespec.moe.MoeKernel;
import dev.moespec.moe.MoeKernelUnavailableException;
import dev.moespec.moe.MoeLayerSpec;
import dev.moespec.moe.MoeWeights;

import java.util.function.Function;

/**
 * Where a model runner gets the kernel for one MoE layer: in the engine, the role's {@code MoeKernels} (its own
 * binding, one kernel per layer and phase); in verification, the exact fp32 oracle. The runner hands over the
 * layer's weights in whatever form the kernel's spec asks for (FP8 with scales, or BF16).
 */
public interface MoeKernelSource {

    /**
     * The kernel for MoE layer {@code layerIndex} and a call of {@code tokens} tokens, created and given its
     * weights ({@code weights.apply(kernel.layer())}) on first use.
     */
    MoeKernel kernel(int layerIndex, int tokens, Function<MoeLayerSpec, MoeWeights> weights)
            throws MoeKernelUnavailableException;

    /** The backend(s) this source runs, for reports: {@code cpu_reference} or {@code triton (decode), x (prefill)}. */
    String describe();
}
