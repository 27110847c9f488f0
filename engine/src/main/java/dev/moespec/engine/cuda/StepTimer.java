package dev.moespec.engine.cuda;

import dev.moespec.cuda.CudaContext;
import dev.moespec.cuda.CudaEvent;
import dev.moespec.cuda.CudaStream;

/**
 * Host and device time of decode steps: how long the host took to queue a step (Java code plus driver calls) and
 * how long the device took from the step's first queued operation to its last (events outside any graph).
 */
public final class StepTimer implements AutoCloseable {

    /** Means per step, in milliseconds. */
    public record Times(double queueMillis, double deviceMillis, int steps) {}

    private final CudaStream stream;
    private final CudaEvent start, end;
    private long queueNanos, pendingQueue;
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
        queueNanos += pendingQueue;
        steps++;
    }

    Times times() {
        return steps == 0 ? new Times(0, 0, 0) : new Times(queueNanos / 1e6 / steps, deviceMillis / steps, steps);
    }

    @Override
    public void close() {
        start.close();
        end.close();
    }
}
