package dev.moespec.cuda;

import dev.moespec.api.tensor.DType;
import dev.moespec.api.tensor.Tensor;
import dev.moespec.cuda.internal.DriverLibrary;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Objects;

/**
 * One device allocation ({@code cuMemAlloc}), freed exactly once by {@link #close()}.
 *
 * <p>Copies move {@code host.byteSize()} bytes between the start of the host segment and the start of this
 * buffer. The synchronous copies accept any segment (heap segments are staged through native memory);
 * the asynchronous ones need native memory, which must stay alive and unchanged until the stream has
 * reached the copy. A zero-byte buffer is allowed (address 0, no driver call) so that empty batches need
 * no special case.
 */
public final class DeviceBuffer extends ContextResource {
    private final long address;
    private final long byteSize;

    private DeviceBuffer(CudaContext context, long address, long byteSize) {
        super(context);
        this.address = address;
        this.byteSize = byteSize;
    }

    /** Allocates {@code bytes} of device memory (contents undefined). */
    public static DeviceBuffer alloc(CudaContext context, long bytes) {
        Objects.requireNonNull(context, "context");
        if (bytes < 0) throw new IllegalArgumentException("device allocation size must be >= 0, got " + bytes);
        DriverLibrary driver = context.enterForCreate();
        long address = 0;
        if (bytes > 0) {
            try {
                address = driver.memAlloc(bytes);
            } catch (CudaException e) {
                throw e.withDetail("allocating " + bytes + " bytes on " + context.describe() + freeMemory(driver));
            }
        }
        return context.track(new DeviceBuffer(context, address, bytes));
    }

    private static String freeMemory(DriverLibrary driver) {
        try {
            return ", %.2f GiB free".formatted(driver.memGetInfo().freeBytes() / (double) (1L << 30));
        } catch (CudaException e) {
            return ""; // the allocation error is the one to report
        }
    }

    /** The device pointer ({@code CUdeviceptr}). */
    public long address() {
        ensureOpen();
        return address;
    }

    public long byteSize() {
        return byteSize;
    }

    /** Copies all of {@code host} to the start of this buffer; returns when the copy is done. */
    public void copyFrom(MemorySegment host) {
        long n = checkFits(host, "copyFrom");
        if (n == 0) return;
        DriverLibrary driver = enter();
        if (host.isNative()) {
            driver.memcpyHtoD(address, host, n);
            return;
        }
        try (Arena staging = Arena.ofConfined()) {
            driver.memcpyHtoD(address, staging.allocate(n).copyFrom(host), n);
        }
    }

    /** Fills all of {@code host} from the start of this buffer; returns when the copy is done. */
    public void copyTo(MemorySegment host) {
        long n = checkFits(host, "copyTo");
        checkWritable(host, "copyTo");
        if (n == 0) return;
        DriverLibrary driver = enter();
        if (host.isNative()) {
            driver.memcpyDtoH(host, address, n);
            return;
        }
        try (Arena staging = Arena.ofConfined()) {
            MemorySegment buf = staging.allocate(n);
            driver.memcpyDtoH(buf, address, n);
            host.copyFrom(buf);
        }
    }

    /** Copies all of {@code source} (another device buffer) to the start of this one. */
    public void copyFrom(DeviceBuffer source) {
        Objects.requireNonNull(source, "source");
        if (source.byteSize > byteSize) {
            throw new IllegalArgumentException(source.describe() + " does not fit in " + describe() + " (copyFrom)");
        }
        if (source.byteSize == 0) return;
        long src = source.address();
        enter().memcpyDtoD(address, src, source.byteSize);
    }

    /** Queues a copy of all of {@code host} (native memory) to this buffer on {@code stream} (null = default stream). */
    public void copyFromAsync(MemorySegment host, CudaStream stream) {
        copyFromAsync(host, 0, stream);
    }

    /**
     * Queues a copy of all of {@code host} (native memory) to this buffer from byte {@code offset} on, on {@code stream}
     * (null = default stream).
     */
    public void copyFromAsync(MemorySegment host, long offset, CudaStream stream) {
        long n = checkFits(host, offset, "copyFromAsync");
        checkNative(host, "copyFromAsync");
        if (n == 0) return;
        long s = CudaStream.handleOf(stream, context);
        enter().memcpyHtoDAsync(address + offset, host, n, s);
    }

    /** Queues a copy from this buffer into all of {@code host} (native memory) on {@code stream} (null = default stream). */
    public void copyToAsync(MemorySegment host, CudaStream stream) {
        long n = checkFits(host, "copyToAsync");
        checkNative(host, "copyToAsync");
        checkWritable(host, "copyToAsync");
        if (n == 0) return;
        long s = CudaStream.handleOf(stream, context);
        enter().memcpyDtoHAsync(host, address, n, s);
    }

    /** Sets every byte of this buffer to {@code value}. */
    public void fill(byte value) {
        if (byteSize == 0) {
            ensureOpen();
            return;
        }
        enter().memsetD8(address, value, byteSize);
    }

    /** A device tensor over the start of this buffer; valid only while the buffer is open. */
    public Tensor asTensor(DType dtype, long... shape) {
        Tensor t = Tensor.device(dtype, address(), shape);
        if (t.byteSize() > byteSize) {
            throw new IllegalArgumentException(t.describe() + " needs " + t.byteSize() + " bytes but " + describe() + " holds "
                    + byteSize);
        }
        return t;
    }

    private long checkFits(MemorySegment host, String operation) {
        return checkFits(host, 0, operation);
    }

    /** {@code host}'s size, after checking it fits from byte {@code offset} on. */
    private long checkFits(MemorySegment host, long offset, String operation) {
        Objects.requireNonNull(host, "host");
        long n = host.byteSize();
        if (offset < 0 || offset > byteSize) {
            throw new IllegalArgumentException("offset " + offset + " is outside " + describe() + " (" + operation + ")");
        }
        if (n > byteSize - offset) {
            throw new IllegalArgumentException("host segment of " + n + " bytes" + (offset == 0 ? "" : " at offset " + offset)
                    + " does not fit in " + describe() + " (" + operation + "): pass a slice of at most "
                    + (byteSize - offset) + " bytes");
        }
        return n;
    }

    private static void checkNative(MemorySegment host, String operation) {
        if (!host.isNative()) {
            throw new IllegalArgumentException(operation + " needs a native host segment (from an Arena), got a heap segment:"
                    + " the copy runs after this call returns, when the garbage collector may have moved the array");
        }
    }

    private static void checkWritable(MemorySegment host, String operation) {
        if (host.isReadOnly()) throw new IllegalArgumentException(operation + " needs a writable host segment, got a read-only one");
    }

    @Override
    void destroy(DriverLibrary driver) {
        if (byteSize > 0) driver.memFree(address);
    }

    @Override
    String describe() {
        return "device buffer of " + byteSize + " bytes on " + context.describe();
    }
}
