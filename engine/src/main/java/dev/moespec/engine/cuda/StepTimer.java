package dev.moespec.engine.cuda;

import dev.moespec.cuda.CudaContext;
import dev.moespec.cuda.CudaEvent;
import dev.moespec.cuda.CudaStream;

import java.util.Arrays;

/**
 * Host and device time of decode steps: how long the host took to queue a step (Java code plus driver calls) and
 * how long the device took from the step's first queued operation to its last (events outside any graph).
 *
 * <p>The host time is reported as a median, like the bench's wall time of a step, so that one garbage collection
 * or JIT compilation inside the timed steps does not stand for the steady state; the device time is a mean.
 */
public final class StepTimer implements AutoCloseable {

    /** Median host queue ms and mean device ms per step. */
    public record Times(double queueMillis, double deviceMillis, int steps) {}

    private final CudaStream stream;
    private final CudaEvent start, end;
    private long[] queueNanos = new long[64];
    private long pendingQueue;
    private double deviceMillis;
    private int steps;

    StepTimer(CudaContext ctx, CudaStream stream) {
        this.stream = stream;
        this.start = CudaEvent.create(ctx);
        this.end = CudaEvent.create(ctx);
    }

    void start() {
        start.record(stream);
    }

    /** Everything of the step is queued; {@code queued} is the host time that took. */
    void stop(long queued) {
        end.record(stream);
        pendingQueue = queued;
    }

    /** After the stream was synchronised. */
    void collect() {
        deviceMillis += CudaEvent.elapsedMillis(start, end);
        if (steps == queueNanos.length) queueNanos = Arrays.copyOf(queueNanos, 2 * steps);
        queueNanos[steps++] = pendingQueue;
    }

    Times times() {
        if (steps == 0) return new Times(0, 0, 0);
        long[] q = Arrays.copyOf(queueNanos, steps);
        Arrays.sort(q);
        double median = steps % 2 == 1 ? q[steps / 2] : (q[steps / 2 - 1] + q[steps / 2]) / 2.0;
        return new Times(median / 1e6, deviceMillis / steps, steps);
    }

    @Override
    public void close() {
        start.close();
        end.close();
    }
}
