package dev.moespec.cuda;

import dev.moespec.cuda.internal.DriverLibrary;

import java.util.Map;
import java.util.Objects;

/**
 * A CUDA graph captured from a stream and instantiated, ready to replay: one {@code cuGraphLaunch} replaces
 * every launch the captured work queued, which removes the per-launch host cost from decode-sized calls and
 * from benchmarks. Owns both driver handles (the {@code CUgraph} and its {@code CUgraphExec}); closing it, or
 * its context, destroys them.
 *
 * <p>Capture runs in global mode ({@code CU_STREAM_CAPTURE_MODE_GLOBAL}): while it lasts, calls that would
 * synchronise implicitly (the synchronous copies of {@link DeviceBuffer}, {@link CudaStream#synchronize()},
 * device allocation) fail with the driver's error instead of being recorded or run. Such a failure ends the
 * capture and leaves the stream usable; the captured work is then discarded.
 *
 * <pre>{@code
 * try (CudaGraph g = CudaGraph.capture(stream, () -> kernel.forward(hidden, logits, out, stream.handle()))) {
 *     for (int i = 0; i < 100; i++) g.launch(stream);
 *     stream.synchronize();
 * }
 * }</pre>
 * A graph replays the captured launches with the captured arguments: the same device pointers and sizes.
 */
public final class CudaGraph extends ContextResource {
    private final long graph;
    private final long exec;
    private final Map<LaunchCounts.Key, Long> launches;

    private CudaGraph(CudaContext context, long graph, long exec, Map<LaunchCounts.Key, Long> launches) {
        super(context);
        this.graph = graph;
        this.exec = exec;
        this.launches = Map.copyOf(launches);
    }

    /**
     * Captures what {@code work} queues on {@code stream} (nothing runs on the device meanwhile) and
     * instantiates it.
     *
     * @throws CudaException         when the driver refuses the capture, when {@code work} made a call that
     *                               capture forbids (the error of that call, with this capture named), or when
     *                               instantiation fails
     * @throws IllegalStateException when {@code stream} queued no work at all (an empty graph is a bug in the caller)
     */
    public static CudaGraph capture(CudaStream stream, Runnable work) {
        Objects.requireNonNull(stream, "stream");
        Objects.requireNonNull(work, "work");
        CudaContext context = stream.context();
        long s = stream.handle();
        DriverLibrary driver = context.enterForCreate();
        driver.streamBeginCapture(s, DriverLibrary.STREAM_CAPTURE_MODE_GLOBAL);
        long graph;
        Map<LaunchCounts.Key, Long> launches = LaunchLedger.beginCapture();
        try {
            work.run();
        } catch (RuntimeException e) {
            // End the capture whatever happened, so the stream takes ordinary work again.
            abandon(context, s, e);
            throw e instanceof CudaException c
                    ? c.withDetail("during CUDA graph capture on " + stream.describe()
                    + "; synchronous copies, stream/context synchronisation and allocation are not allowed while capturing")
                    : e;
        } finally {
            LaunchLedger.endCapture();
        }
        try {
            graph = context.enter().streamEndCapture(s);
        } catch (CudaException e) {
            throw e.withDetail("ending CUDA graph capture on " + stream.describe()
                    + " (an unsafe call during capture, possibly on another thread, invalidates it)");
        }
        if (graph == 0) {
            throw new IllegalStateException("CUDA graph capture on " + stream.describe() + " recorded nothing");
        }
        long exec;
        try {
            exec = context.enter().graphInstantiateWithFlags(graph, 0L);
        } catch (CudaException e) {
            context.enter().graphDestroy(graph);
            throw e.withDetail("instantiating the graph captured on " + stream.describe());
        }
        return context.track(new CudaGraph(context, graph, exec, launches));
    }

    private static void abandon(CudaContext context, long stream, RuntimeException cause) {
        try {
            long partial = context.enter().streamEndCapture(stream);
            if (partial != 0) context.enter().graphDestroy(partial);
        } catch (CudaException ended) {
            // Expected when the failing call invalidated the capture: the capture is over either way.
            if (ended != cause) cause.addSuppressed(ended);
        }
    }

    /** Queues one replay of the captured work on {@code stream} (any stream of the same context). */
    public void launch(CudaStream stream) {
        Objects.requireNonNull(stream, "stream");
        long s = CudaStream.handleOf(stream, context);
        enter().graphLaunch(exec, s);
        LaunchLedger.replayed(launches);
    }

    /** The kernel launches one replay makes, per (role at capture, image); see {@link LaunchLedger}. */
    public LaunchCounts launches() {
        return new LaunchCounts(launches);
    }

    /** The {@code CUgraphExec}. */
    public long execHandle() {
        ensureOpen();
        return exec;
    }

    @Override
    void destroy(DriverLibrary driver) {
        try {
            driver.graphExecDestroy(exec);
        } finally {
            driver.graphDestroy(graph);
        }
    }

    @Override
    String describe() {
        return "CUDA graph 0x" + Long.toHexString(graph) + " on " + context.describe();
    }
}
