package dev.moespec.cuda;

import dev.moespec.cuda.internal.DriverLibrary;

import java.util.Objects;

/**
 * A CUDA stream: work queued on it runs in order. Created blocking (flags 0), so it also orders against
 * the legacy default stream, which this module's synchronous copies use; mixing the two stays correct.
 */
public final class CudaStream extends ContextResource {
    private final long handle;

    private CudaStream(CudaContext context, long handle) {
        super(context);
        this.handle = handle;
    }

    public static CudaStream create(CudaContext context) {
        Objects.requireNonNull(context, "context");
        long handle = context.enterForCreate().streamCreate(0);
        return context.track(new CudaStream(context, handle));
    }

    /** The {@code CUstream}, as {@link dev.moespec.api.tensor.Tensor}-level APIs (the MoE SPI) take it. */
    public long handle() {
        ensureOpen();
        return handle;
    }

    /**
     * Makes work queued on this stream from now on wait for what {@code event} last recorded (on any stream of the
     * device). Inside a graph capture this forks or joins streams: a stream that waits for an event recorded on a
     * capturing stream joins that capture.
     */
    public void waitFor(CudaEvent event) {
        java.util.Objects.requireNonNull(event, "event");
        enter().streamWaitEvent(handle, event.handle());
    }

    /** Waits until all work queued so far has finished. */
    public void synchronize() {
        enter().streamSynchronize(handle);
    }

    /**
     * 0 (the legacy default stream) for null; else the handle, after checking it belongs to {@code context}'s driver
     * context.
     */
    static long handleOf(CudaStream stream, CudaContext context) {
        if (stream == null) return 0L;
        // another CudaContext opened on the same device wraps the same primary context: its streams are ours
        if (stream.context != context && stream.context.handle() != context.handle()) {
            throw new IllegalArgumentException(stream.describe() + " belongs to another CudaContext than " + context.describe()
                    + " (open a stream in the same context)");
        }
        return stream.handle();
    }

    @Override
    void destroy(DriverLibrary driver) {
        driver.streamDestroy(handle);
    }

    @Override
    String describe() {
        return "CUDA stream 0x" + Long.toHexString(handle) + " on " + context.describe();
    }
}
