package dev.moespec.cuda;

import dev.moespec.cuda.internal.DriverLibrary;

import java.lang.foreign.Arena;
import java.util.Objects;

/** One kernel of a {@link CudaModule}; valid while its module is open. */
public final class CudaFunction {
    private final CudaModule module;
    private final String name;
    private final long handle;

    CudaFunction(CudaModule module, String name, long handle) {
        this.module = module;
        this.name = name;
        this.handle = handle;
    }

    public String name() {
        return name;
    }

    public CudaModule module() {
        return module;
    }

    /** The {@code CUfunction}. */
    public long handle() {
        module.ensureOpen();
        return handle;
    }

    /**
     * Queues the kernel on {@code stream} (null = the legacy default stream). Argument values are copied by
     * the driver during this call, so {@code args} may be reused or changed afterwards.
     *
     * @throws CudaException when the driver rejects the launch (too many threads per block, too much shared
     *                       memory); errors inside the kernel surface at the next synchronization
     */
    public void launch(Dim3 grid, Dim3 block, int sharedMemBytes, CudaStream stream, KernelArgs args) {
        launch(grid, block, sharedMemBytes, CudaStream.handleOf(stream, module.context()), args);
    }

    /**
     * Like {@link #launch(Dim3, Dim3, int, CudaStream, KernelArgs)} on a raw {@code CUstream} handle (0 = the legacy
     * default stream): the MoE SPI hands kernels a {@code long} stream ({@code MoeKernel.forward(..., long stream)})
     * that this module did not create. The stream must belong to this function's context.
     */
    public void launch(Dim3 grid, Dim3 block, int sharedMemBytes, long stream, KernelArgs args) {
        launch(grid, block, sharedMemBytes, stream, args, false);
    }

    /**
     * Like {@link #launch(Dim3, Dim3, int, long, KernelArgs)}, as a programmatic dependent launch where the device and
     * driver support it (sm_90 and later): the kernel's blocks may start while the kernel before it on the stream is
     * still running, which hides the launch gap between the small kernels of a decode step. The kernel must therefore
     * execute {@code griddepcontrol.wait} before it reads anything the previous kernel writes (and should execute
     * {@code griddepcontrol.launch_dependents} early, so that the next kernel can start as well). Elsewhere it is an
     * ordinary launch, where both instructions are compiled out or no-ops. A CUDA graph captured from such launches
     * keeps the programmatic edges.
     */
    public void launchProgrammatic(Dim3 grid, Dim3 block, int sharedMemBytes, long stream, KernelArgs args) {
        launch(grid, block, sharedMemBytes, stream, args, true);
    }

    /** Both launches: checked arguments, the context entered once, the ledger counted, the driver's error explained. */
    private void launch(Dim3 grid, Dim3 block, int sharedMemBytes, long stream, KernelArgs args, boolean programmatic) {
        Objects.requireNonNull(grid, "grid");
        Objects.requireNonNull(block, "block");
        Objects.requireNonNull(args, "args");
        if (sharedMemBytes < 0) throw new IllegalArgumentException("sharedMemBytes must be >= 0, got " + sharedMemBytes);
        CudaContext context = module.context();
        try (Arena arena = Arena.ofConfined()) {
            DriverLibrary driver = module.enter();
            if (programmatic && context.info().smMajor() >= 9 && driver.hasProgrammaticLaunch()) {
                driver.launchKernelProgrammatic(handle, grid.x(), grid.y(), grid.z(), block.x(), block.y(), block.z(),
                        sharedMemBytes, stream, args.pack(arena), arena);
            } else {
                driver.launchKernel(handle, grid.x(), grid.y(), grid.z(), block.x(), block.y(), block.z(),
                        sharedMemBytes, stream, args.pack(arena));
            }
            LaunchLedger.launched(module);
        } catch (CudaException e) {
            throw e.withDetail(launchDetail(grid, block, sharedMemBytes, args, context.limits()));
        }
    }

    private String launchDetail(Dim3 grid, Dim3 block, int sharedMemBytes, KernelArgs args, DeviceLimits limits) {
        StringBuilder s = new StringBuilder("launching ").append(name).append(" with grid ").append(grid)
                .append(", block ").append(block).append(", ").append(sharedMemBytes)
                .append(" bytes of dynamic shared memory, args ").append(args);
        if (block.count() > limits.maxThreadsPerBlock()) {
            s.append("; the block has ").append(block.count()).append(" threads, this device allows at most ")
                    .append(limits.maxThreadsPerBlock());
        }
        if (sharedMemBytes > limits.maxSharedMemoryPerBlockOptin()) {
            s.append("; this device allows at most ").append(limits.maxSharedMemoryPerBlockOptin())
                    .append(" bytes of shared memory per block");
        }
        return s.toString();
    }

    /**
     * Lets launches use more than the default 48 KiB of dynamic shared memory, up to the device's opt-in
     * limit ({@link DeviceLimits#maxSharedMemoryPerBlockOptin()}).
     */
    public void setMaxDynamicSharedMemory(int bytes) {
        if (bytes < 0) throw new IllegalArgumentException("dynamic shared memory must be >= 0 bytes, got " + bytes);
        try {
            module.enter().funcSetAttribute(handle, DriverLibrary.FUNC_ATTR_MAX_DYNAMIC_SHARED_SIZE_BYTES, bytes);
        } catch (CudaException e) {
            throw e.withDetail("kernel " + name + " asked for " + bytes + " bytes of dynamic shared memory; this device allows at most "
                    + module.context().limits().maxSharedMemoryPerBlockOptin() + " per block");
        }
    }

    @Override
    public String toString() {
        return "CudaFunction " + name + " of " + module.source();
    }
}
