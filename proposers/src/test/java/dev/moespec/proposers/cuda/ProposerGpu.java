package dev.moespec.proposers.cuda;

import dev.moespec.cuda.Cuda;
import dev.moespec.cuda.CudaAvailability;
import org.junit.jupiter.api.Assumptions;

/** Shared by the proposers' {@code @Tag("gpu")} tests: skip (not fail) without a GPU or without built kernels. */
public final class ProposerGpu {
    private ProposerGpu() {}

    public static void assumeGpuAndKernels() {
        CudaAvailability availability = Cuda.available();
        Assumptions.assumeTrue(availability instanceof CudaAvailability.Available,
                () -> "no usable CUDA GPU: " + ((CudaAvailability.Unavailable) availability).reason());
        Assumptions.assumeTrue(ProposerKernels.present(), "the proposers jar was built without nvcc (no fatbin)");
    }
}
