package dev.moespec.cuda;

import java.lang.foreign.MemorySegment;
import java.util.Objects;

/**
 * A page-locked host area paired with a device buffer of the same capacity, reused step after step so that a
 * per-step upload or readback allocates nothing; grows (doubling) only when a step needs more than any before.
 * Owns both; {@link #close} frees them. Used by one thread at a time.
 */
public final class StagingBuffer implements AutoCloseable {
    private final CudaContext context;
    private PinnedHostMemory host;
    private DeviceBuffer device;
    private long capacity;

    /** Allocates {@code initialBytes} (at least 64) on both sides. */
    public StagingBuffer(CudaContext context, long initialBytes) {
        this.context = Objects.requireNonNull(context, "context");
        grow(Math.max(64, initialBytes));
    }

    /** Makes room for {@code bytes}; the previous contents are lost when it has to grow. */
    public void ensure(long bytes) {
        if (bytes > capacity) grow(Math.max(bytes, 2 * capacity));
    }

    /** The first {@code bytes} of the host area. */
    public MemorySegment host(long bytes) {
        return host.segment().asSlice(0, bytes);
    }

    /** The device side (valid until the next {@link #ensure} that grows). */
    public DeviceBuffer device() {
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
