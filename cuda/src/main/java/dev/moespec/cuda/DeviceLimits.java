package dev.moespec.cuda;

/**
 * Launch limits read off the device when a {@link CudaContext} opens; kernels size their blocks and shared
 * memory from these instead of hard-coding one GPU's numbers.
 *
 * @param maxThreadsPerBlock           threads in one block (1024 on every current GPU)
 * @param maxSharedMemoryPerBlockOptin dynamic shared memory one block may use after
 *                                     {@link CudaFunction#setMaxDynamicSharedMemory} (227 KiB on H100)
 * @param l2CacheBytes                 L2 size (50 MiB on H100)
 */
public record DeviceLimits(int maxThreadsPerBlock, int maxSharedMemoryPerBlockOptin, int l2CacheBytes) {
}
