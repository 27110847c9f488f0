package dev.moespec.proposers.cuda;

import dev.moespec.cuda.CudaContext;
import dev.moespec.cuda.CudaModule;

/**
 * The proposers' kernel image: {@code proposers/src/main/cuda/*.cu}, built by the {@code cuda-kernels} profile into
 * {@code META-INF/moespec/kernels/moespec-proposers.fatbin} inside this jar.
 */
public final class ProposerKernels {
    /** The artifact id the fatbin is named after. */
    public static final String ARTIFACT_ID = "moespec-proposers";

    private ProposerKernels() {}

    /** Whether this jar carries the fatbin (false for a build without nvcc); needs no GPU. */
    public static boolean present() {
        return CudaModule.hasKernels(ProposerKernels.class.getClassLoader(), ARTIFACT_ID);
    }

    /**
     * Loads the fatbin into {@code context}; the caller owns (closes) the module.
     *
     * @throws IllegalStateException when the jar was built without nvcc
     */
    public static CudaModule load(CudaContext context) {
        return CudaModule.fromResource(context, ProposerKernels.class.getClassLoader(),
                CudaModule.kernelResource(ARTIFACT_ID));
    }
}
