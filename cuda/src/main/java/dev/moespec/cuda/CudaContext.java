package dev.moespec.cuda;

import dev.moespec.api.device.DeviceInfo;
import dev.moespec.cuda.internal.DriverLibrary;

import java.lang.foreign.Arena;
import java.lang.foreign.SegmentAllocator;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

/**
 * A retained primary context of one device: what every other CUDA resource here is created in.
 *
 * <p>The driver keeps a <em>current context per thread</em>, and driver calls on a thread without one fail
 * with {@code CUDA_ERROR_INVALID_CONTEXT}. Java code hops threads (executors, virtual threads), so every
 * operation of this module calls {@link #makeCurrent()} itself first; call it yourself before driver or
 * library calls made outside this module (cuBLAS, a raw stream handle handed to native code).
 *
 * <p>The primary context is shared and reference-counted by the driver, so two {@code CudaContext}s of one
 * ordinal are the same device context. Closing this one closes every buffer, stream, event and module made
 * from it (latest first), then releases the context and frees the host memory of {@link #hostAllocator()}.
 * Closing is idempotent and thread-safe; close a context only after the work using it has finished.
 */
public final class CudaContext implements AutoCloseable {
    private enum State { OPEN, CLOSING, RELEASED }

    private final DriverLibrary driver;
    private final DeviceInfo info;
    private final int device;
    private final long handle;
    private final DeviceLimits limits;
    private final Arena arena = Arena.ofShared();
    private final Set<ContextResource> resources = new LinkedHashSet<>(); // guarded by itself
    private volatile State state = State.OPEN;

    private CudaContext(DriverLibrary driver, DeviceInfo info, int device, long handle, DeviceLimits limits) {
        this.driver = driver;
        this.info = info;
        this.device = device;
        this.handle = handle;
        this.limits = limits;
    }

    /**
     * Retains the primary context of device {@code ordinal} and makes it current on this thread.
     *
     * @throws IllegalStateException    when CUDA is unavailable (the message says why)
     * @throws IllegalArgumentException when there is no device with that ordinal
     */
    public static CudaContext open(int ordinal) {
        DriverLibrary driver = Cuda.driver();
        List<DeviceInfo> devices = Cuda.devices();
        if (ordinal < 0 || ordinal >= devices.size()) {
            throw new IllegalArgumentException("no CUDA device with ordinal " + ordinal + ": this machine has "
                    + devices.size() + " (ordinals 0.." + (devices.size() - 1) + ")");
        }
        int device = driver.deviceGet(ordinal);
        long handle = driver.devicePrimaryCtxRetain(device);
        try {
            driver.ctxSetCurrent(handle);
            DeviceLimits limits = new DeviceLimits(
                    driver.deviceGetAttribute(DriverLibrary.ATTR_MAX_THREADS_PER_BLOCK, device),
                    driver.deviceGetAttribute(DriverLibrary.ATTR_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN, device),
                    driver.deviceGetAttribute(DriverLibrary.ATTR_L2_CACHE_SIZE, device));
            return new CudaContext(driver, devices.get(ordinal), device, handle, limits);
        } catch (RuntimeException e) {
            driver.devicePrimaryCtxRelease(device);
            throw e;
        }
    }

    /** The device this context belongs to. */
    public DeviceInfo info() {
        return info;
    }

    public DeviceLimits limits() {
        return limits;
    }

    /** The {@code CUcontext}, for native libraries that take one. */
    public long handle() {
        return handle;
    }

    /** Makes this context current on the calling thread (see the class comment for why). */
    public void makeCurrent() {
        enter();
    }

    /** Waits for all work on every stream of this context. */
    public void synchronize() {
        enter().ctxSynchronize();
    }

    /** Free and total device memory. */
    public MemInfo memInfo() {
        return enter().memGetInfo();
    }

    /** Host memory that lives as long as this context (staging, launch tables); freed when it closes. */
    public SegmentAllocator hostAllocator() {
        return (byteSize, byteAlignment) -> {
            ensureOpen();
            return arena.allocate(byteSize, byteAlignment);
        };
    }

    public boolean isClosed() {
        return state != State.OPEN;
    }

    @Override
    public synchronized void close() {
        if (state != State.OPEN) return;
        state = State.CLOSING;
        List<ContextResource> open;
        synchronized (resources) {
            open = new ArrayList<>(resources);
        }
        RuntimeException failure = null;
        for (ContextResource r : open.reversed()) {
            try {
                r.close();
            } catch (RuntimeException e) {
                failure = addFailure(failure, e);
            }
        }
        try {
            driver.devicePrimaryCtxRelease(device);
        } catch (RuntimeException e) {
            failure = addFailure(failure, e);
        } finally {
            state = State.RELEASED;
            arena.close();
        }
        if (failure != null) throw failure;
    }

    private static RuntimeException addFailure(RuntimeException first, RuntimeException next) {
        if (first == null) return next;
        first.addSuppressed(next);
        return first;
    }

    /** {@code device 0 (NVIDIA H100 80GB HBM3, sm_90)}, for messages. */
    String describe() {
        return "device " + info.ordinal() + " (" + info.name() + ", sm_" + info.sm() + ")";
    }

    // ---- for the resources made from this context ----

    /** Makes the context current and hands out the driver; fails once the context is released. */
    DriverLibrary enter() {
        if (state == State.RELEASED) {
            throw new IllegalStateException("CudaContext of " + describe() + " is closed");
        }
        driver.ctxSetCurrent(handle);
        return driver;
    }

    /** Like {@link #enter()}, for creating resources: fails as soon as closing has begun. */
    DriverLibrary enterForCreate() {
        ensureOpen();
        return enter();
    }

    private void ensureOpen() {
        if (state != State.OPEN) {
            throw new IllegalStateException("CudaContext of " + describe() + " is closed: open a new one with CudaContext.open("
                    + info.ordinal() + ")");
        }
    }

    /** Whether a resource's handle can still be destroyed (the driver context is still retained by us). */
    boolean retained() {
        return state != State.RELEASED;
    }

    <T extends ContextResource> T track(T resource) {
        synchronized (resources) {
            if (state == State.OPEN) {
                resources.add(resource);
                return resource;
            }
        }
        // Lost a race with close(): give the handle back instead of leaking it.
        resource.close();
        ensureOpen();
        return resource;
    }

    void forget(ContextResource resource) {
        synchronized (resources) {
            resources.remove(resource);
        }
    }
}
