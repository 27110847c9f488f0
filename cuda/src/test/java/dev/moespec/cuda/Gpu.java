package dev.moespec.cuda;

import org.junit.jupiter.api.Assumptions;

/** Shared by the {@code @Tag("gpu")} tests: skip (not fail) where CUDA is unavailable, and load the self-test kernels. */
final class Gpu {
    private Gpu() {}

    static final String ARTIFACT = "moespec-cuda";

    static void assumeGpu() {
        CudaAvailability availability = Cuda.available();
        Assumptions.assumeTrue(availability instanceof CudaAvailability.Available,
                () -> "no usable CUDA GPU: " + ((CudaAvailability.Unavailable) availability).reason());
    }

    static CudaModule selftestModule(CudaContext ctx) {
        return CudaModule.fromResource(ctx, Gpu.class.getClassLoader(), CudaModule.kernelResource(ARTIFACT));
    }
}
