package dev.moespec.cuda;

import dev.moespec.cuda.internal.PinnedHostLibrary;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * Page-locked host memory ({@code cuMemHostAlloc}) of one context: the staging area of per-step copies, which the
 * copy engine then reads or writes asynchronously. Not tracked by the context: close it before the context.
 */
public final class PinnedHostMemory implements AutoCloseable {
    private final CudaContext context;
    private final MemorySegment segment;
    private boolean closed;

    private PinnedHostMemory(CudaContext context, MemorySegment segment) {
        this.context = context;
        this.segment = segment;
    }

    /**
     * Allocates {@code bytes} of page-locked memory.
     *
     * @throws CudaException         when the driver refuses (out of host memory, ...)
     * @throws IllegalStateException when the driver has no {@code cuMemHostAlloc}
     */
    public static PinnedHostMemory alloc(CudaContext context, long bytes) {
        if (bytes < 1) throw new IllegalArgumentException("pinned allocation needs at least 1 byte, got " + bytes);
        if (!PinnedHostLibrary.present()) throw new IllegalStateException("this CUDA driver has no cuMemHostAlloc");
        context.makeCurrent();
        long p;
        try (Arena a = Arena.ofConfined()) {
            MemorySegment out = a.allocate(ValueLayout.JAVA_LONG);
            int rc = PinnedHostLibrary.alloc(out, bytes);
            if (rc != 0) {
                throw new CudaException("cuMemHostAlloc", rc, "CUresult " + rc, "see cuda.h",
                        "allocating " + bytes + " bytes of page-locked host memory");
            }
            p = out.get(ValueLayout.JAVA_LONG, 0);
        }
        return new PinnedHostMemory(context, MemorySegment.ofAddress(p).reinterpret(bytes));
    }

    /** The memory; valid until {@link #close}. */
    public MemorySegment segment() {
        if (closed) throw new IllegalStateException("pinned host memory is closed");
        return segment;
    }

    @Override
    public synchronized void close() {
        if (closed) return;
        closed = true;
        if (!context.isClosed()) {
            context.makeCurrent();
            PinnedHostLibrary.free(segment.address());
        }
    }
}
