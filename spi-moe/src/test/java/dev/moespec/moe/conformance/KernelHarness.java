package dev.moespec.moe.conformance;

import dev.moespec.api.tensor.Tensor;
import dev.moespec.moe.MoeKernel;

/**
 * How the conformance kit calls a kernel. The kit works on host tensors; a GPU backend overrides
 * {@link MoeBackendConformanceKit#harness()} with one that uploads {@code hidden}, {@code routerLogits} and the
 * (poisoned) {@code out}, calls {@link MoeKernel#forward} with device tensors and a stream, synchronises, and copies
 * {@code out} back — also when {@code forward} throws, so the kit can check that a refused call wrote nothing.
 */
@FunctionalInterface
public interface KernelHarness {

    /** Runs {@code kernel.forward} on the kernel's placement; host tensors in, result in the host {@code out}. */
    void forward(MoeKernel kernel, Tensor hidden, Tensor routerLogits, Tensor out);

    /** For host-memory kernels: calls {@code forward} directly on the default stream. */
    static KernelHarness host() {
        return (kernel, hidden, routerLogits, out) -> kernel.forward(hidden, routerLogits, out, 0L);
    }
}
