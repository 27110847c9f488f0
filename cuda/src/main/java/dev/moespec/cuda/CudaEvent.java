package dev.moespec.cuda;

import dev.moespec.cuda.internal.DriverLibrary;

import java.util.Objects;

/** A CUDA event: a point in a stream to wait for or to time from. */
public final class CudaEvent extends ContextResource {
    private final long handle;

    private CudaEvent(CudaContext context, long handle) {
        super(context);
        this.handle = handle;
    }

    /** An event with timing enabled ({@code CU_EVENT_DEFAULT}). */
    public static CudaEvent create(CudaContext context) {
        Objects.requireNonNull(context, "context");
        long handle = context.enterForCreate().eventCreate(0);
        return context.track(new CudaEvent(context, handle));
    }

    /**
     * An event for ordering only ({@code CU_EVENT_DISABLE_TIMING}): cheaper to record, and what a stream captured into
     * a graph may record to fork work onto another stream ({@link CudaStream#waitFor}).
     */
    public static CudaEvent createUntimed(CudaContext context) {
        Objects.requireNonNull(context, "context");
        long handle = context.enterForCreate().eventCreate(CU_EVENT_DISABLE_TIMING);
        return context.track(new CudaEvent(context, handle));
    }

    private static final int CU_EVENT_DISABLE_TIMING = 0x2;

    /** Marks the current end of {@code stream}'s queue (null = the default stream). */
    public void record(CudaStream stream) {
        long s = CudaStream.handleOf(stream, context);
        enter().eventRecord(handle, s);
    }

    /** Waits until the work before the last {@link #record} has finished. */
    public void synchronize() {
        enter().eventSynchronize(handle);
    }

    /**
     * Milliseconds between two recorded events (resolution about 0.5 µs). Waits for {@code end} first, so
     * the answer is never {@code CUDA_ERROR_NOT_READY}.
     */
    public static float elapsedMillis(CudaEvent start, CudaEvent end) {
        Objects.requireNonNull(start, "start");
        Objects.requireNonNull(end, "end");
        end.synchronize();
        start.ensureOpen();
        return end.enter().eventElapsedTime(start.handle, end.handle);
    }

    public long handle() {
        ensureOpen();
        return handle;
    }

    @Override
    void destroy(DriverLibrary driver) {
        driver.eventDestroy(handle);
    }

    @Override
    String describe() {
        return "CUDA event 0x" + Long.toHexString(handle) + " on " + context.describe();
    }
}
