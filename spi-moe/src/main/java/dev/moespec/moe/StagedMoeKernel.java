package dev.moespec.moe;

import dev.moespec.api.tensor.Tensor;

/**
 * A kernel that can run its two stages separately: routing (top-k ids and weights from the router logits, and
 * the token→expert alignment) and the experts (grouped GEMM 1, SwiGLU, grouped GEMM 2 with the router weights,
 * reduction over top-k). {@link #forward} is {@code route} then {@code experts}.
 *
 * <p>Optional: {@code moespec bench moe} uses it to time routing/alignment in a column of its own, as the peer
 * numbers do; a kernel that is not staged is timed whole.
 */
public interface StagedMoeKernel extends MoeKernel {

    /** Routing and alignment for {@code routerLogits[M,E]}; the result stays in the kernel's workspace. */
    void route(Tensor routerLogits, long stream);

    /** The experts over {@code hidden[M,H]} using the last {@link #route} of the same M; writes {@code out[M,H]}. */
    void experts(Tensor hidden, Tensor out, long stream);

    @Override
    default void forward(Tensor hidden, Tensor routerLogits, Tensor out, long stream) {
        route(routerLogits, stream);
        experts(hidden, out, stream);
    }
}
