package dev.moespec.cli;

/**
 * {@code --device cuda} asked for the CUDA forward pass, which is not built yet: the CPU path of issue 5 exists,
 * its CUDA half (cuBLAS dense GEMMs, attention/norm/RoPE kernels, CUDA graphs) does not. A refusal, not a silent
 * fallback: the user asked for the GPU explicitly.
 */
final class GpuPathNotImplementedException extends RuntimeException {
    GpuPathNotImplementedException() {
        super("--device cuda: the CUDA forward pass (issue 5's GPU half: cuBLAS GEMMs, attention/norm/RoPE kernels,"
                + " CUDA graphs) is not implemented yet; use --device cpu, or --device auto to run on the CPU");
    }
}
