package dev.moespec.moe;

import dev.moespec.api.tensor.Tensor;

/**
 * One MoE layer's kernel on one backend: routing, grouped GEMM 1, SwiGLU, grouped GEMM 2 with the router
 * weights, reduction over top-k. Created by {@link MoeBackendProvider#create}, given its weights once,
 * then called many times. Not thread-safe: one kernel belongs to one model runner.
 */
public interface MoeKernel extends AutoCloseable {

    /** The provider name that made this kernel. */
    String backend();

    MoeLayerSpec layer();

    /**
     * Takes the layer's weights (HF layout, host memory) and converts them to whatever the kernel wants
     * (repacking, device upload). Called once, before the first {@link #forward}.
     *
     * @throws IllegalArgumentException when a tensor's dtype or shape does not match {@link #layer()}
     */
    void loadWeights(MoeWeights weights);

    /**
     * {@code out[M,H] = sum_k w_k * expert_k(hidden[M,H])}, experts chosen from {@code routerLogits[M,E]}.
     * Tensors live where the backend runs (host for CPU backends, device for GPU ones); {@code stream} is a
     * CUDA stream handle (0 = the default stream; ignored on CPU). M may be 0.
     *
     * @throws IllegalArgumentException on a shape or dtype mismatch, or M above {@link MoeLayerSpec#maxTokens()},
     *                                  before anything is launched
     */
    void forward(Tensor hidden, Tensor routerLogits, Tensor out, long stream);

    /** Frees what {@link #loadWeights} allocated. Idempotent. */
    @Override
    void close();
}
