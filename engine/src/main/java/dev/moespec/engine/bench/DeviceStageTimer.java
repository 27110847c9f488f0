package dev.moespec.engine.bench;

import dev.moespec.cuda.CudaEvent;
import dev.moespec.cuda.CudaException;
import dev.moespec.cuda.CudaGraph;
import dev.moespec.cuda.CudaStream;
import dev.moespec.cuda.DeviceBuffer;

import java.util.Objects;

/**
 * CUDA-event timing on one stream, the way the anchors were measured: warm-up, then per repetition an L2 flush
 * (a write of {@code flush}, at least twice the L2, so no weights stay cached from the previous repetition),
 * a start event, the stage, an end event; the median over the repetitions.
 *
 * <p>With {@code graphs} the stage is captured once into a {@link CudaGraph} and each repetition is one graph
 * launch, which takes the host's per-launch cost out of the number (the anchors replay graphs too). A stage
 * that cannot be captured (it synchronises, allocates or copies synchronously) is timed eagerly instead and
 * the mode says why.
 *
 * <p>The flush is a {@code cuMemsetD8} on the legacy default stream; the timed stream is a blocking stream, so
 * its start event waits for the flush without a host synchronisation.
 */
final class DeviceStageTimer implements StageTimer {
    private final CudaStream stream;
    private final DeviceBuffer flush;
    private final CudaEvent start;
    private final CudaEvent end;
    private final boolean graphs;
    private final int warmup;
    private final int reps;

    DeviceStageTimer(CudaStream stream, DeviceBuffer flush, boolean graphs, int warmup, int reps) {
        this.stream = Objects.requireNonNull(stream, "stream");
        this.flush = Objects.requireNonNull(flush, "flush");
        if (warmup < 0 || reps < 1) throw new IllegalArgumentException("need warmup >= 0 and reps >= 1, got " + warmup + ", " + reps);
        this.graphs = graphs;
        this.warmup = warmup;
        this.reps = reps;
        this.start = CudaEvent.create(stream.context());
        this.end = CudaEvent.create(stream.context());
    }

    @Override
    public Timing time(Runnable stage) {
        if (!graphs) return measure(stage, "eager");
        CudaGraph graph;
        try {
            graph = CudaGraph.capture(stream, stage);
        } catch (CudaException e) {
            return measure(stage, "eager (graph capture failed: " + e.errorName() + ")");
        }
        try (graph) {
            return measure(() -> graph.launch(stream), "graph");
        }
    }

    private Timing measure(Runnable work, String mode) {
        for (int i = 0; i < warmup; i++) work.run();
        stream.synchronize();
        double[] us = new double[reps];
        for (int r = 0; r < reps; r++) {
            flush.fill((byte) r);
            start.record(stream);
            work.run();
            end.record(stream);
            us[r] = CudaEvent.elapsedMillis(start, end) * 1e3;
        }
        return Timing.of(us, mode);
    }
}
