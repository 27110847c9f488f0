package dev.moespec.cuda;

import dev.moespec.cuda.internal.DriverLibrary;

/**
 * A driver object created in a {@link CudaContext}: each create is paired with exactly one destroy.
 * {@link #close()} is idempotent and thread-safe; any other use after close throws
 * {@link IllegalStateException}. Closing the context closes its resources first.
 */
abstract sealed class ContextResource implements AutoCloseable permits DeviceBuffer, CudaStream, CudaEvent, CudaModule, CudaGraph {
    final CudaContext context;
    private volatile boolean closed;

    ContextResource(CudaContext context) {
        this.context = context;
    }

    /** Frees the driver handle; called once, with the context current. */
    abstract void destroy(DriverLibrary driver);

    /** What this is, for messages: {@code device buffer of 4096 bytes on device 0 (...)}. */
    abstract String describe();

    public final boolean isClosed() {
        return closed;
    }

    /** The context this was created in. */
    public final CudaContext context() {
        return context;
    }

    @Override
    public final synchronized void close() {
        if (closed) return;
        closed = true;
        context.forget(this);
        if (context.retained()) destroy(context.enter());
    }

    final void ensureOpen() {
        if (closed) {
            throw new IllegalStateException(describe() + " is closed"
                    + (context.isClosed() ? " (its CudaContext was closed, which closes everything made from it)" : ""));
        }
    }

    /** Ensures this is open, makes its context current and hands out the driver. */
    final DriverLibrary enter() {
        ensureOpen();
        return context.enter();
    }
}
