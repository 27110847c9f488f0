package dev.moespec.engine.bench;

import dev.moespec.cuda.CudaEvent;
import dev.moespec.cuda.CudaException;
import dev.moespec.cuda.CudaGraph;
import dev.moespec.cuda.CudaStream;

import java.util.Objects;

/**
 * CUDA-event timing on one stream, the way the anchors were measured: warm-up, then per repetition an L2 flush
 * ({@link L2Flush}: a write of at least twice the L2, so no weights stay cached from the previous repetition, then a
 * read of it, so no dirty line is left for the timed stage to write back), a start event, the stage, an end event;
 * the median over the repetitions.
 *
 * <p>With {@code graphs} the stage is captured once into a {@link CudaGraph} and each repetition is one graph
 * launch, which takes the host's per-launch cost out of the number (the anchors replay graphs too). A stage
 * that cannot be captured (it synchronises, allocates or copies synchronously) is timed eagerly instead and
 * the mode says why.
 *
 * <p>The flush's write is a {@code cuMemsetD8} on the legacy default stream, its read a kernel on the timed stream,
 * a blocking stream, so the start event waits for both without a host synchronisation.
 */
final class DeviceStageTimer implements StageTimer {
    private final CudaStream stream;
    private final L2Flush flush;
    private final CudaEvent start;
    private final CudaEvent end;
    private final boolean graphs;
    private final int warmup;
    private final int reps;

    DeviceStageTimer(CudaStream stream, L2Flush flush, boolean graphs, int warmup, int reps) {
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
            flush.run(r, stream);
            start.record(stream);
            work.run();
            end.record(stream);
            us[r] = CudaEvent.elapsedMillis(start, end) * 1e3;
        }
        return Timing.of(us, mode);
    }
}
