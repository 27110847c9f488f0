package dev.moespec.proposers.cuda;

import dev.moespec.cuda.CudaContext;
import dev.moespec.cuda.DeviceBuffer;
import dev.moespec.cuda.PinnedHostMemory;

import java.lang.foreign.MemorySegment;

/**
 * A page-locked host area and a device buffer of the same capacity, reused step after step so that a per-step
 * upload or readback allocates nothing; grows (doubling) only when a step needs more than any step before.
 */
final class StagingBuffer implements AutoCloseable {
    private final CudaContext context;
    private PinnedHostMemory host;
    private DeviceBuffer device;
    private long capacity;

    StagingBuffer(CudaContext context, long initialBytes) {
        this.context = context;
        grow(Math.max(64, initialBytes));
    }

    /** Makes room for {@code bytes}; the previous contents are lost when it has to grow. */
    void ensure(long bytes) {
        if (bytes > capacity) grow(Math.max(bytes, 2 * capacity));
    }

    /** The first {@code bytes} of the host area. */
    MemorySegment host(long bytes) {
        return host.segment().asSlice(0, bytes);
    }

    DeviceBuffer device() {
        return device;
    }

    private void grow(long bytes) {
        close();
        host = PinnedHostMemory.alloc(context, bytes);
        device = DeviceBuffer.alloc(context, bytes);
        capacity = bytes;
    }

    @Override
    public void close() {
        if (device != null) device.close();
        if (host != null) host.close();
        device = null;
        host = null;
        capacity = 0;
    }
}
