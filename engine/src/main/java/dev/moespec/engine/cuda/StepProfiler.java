package dev.moespec.engine.cuda;

import dev.moespec.cuda.CudaContext;
import dev.moespec.cuda.CudaEvent;
import dev.moespec.cuda.CudaStream;
import dev.moespec.cuda.EventRecorder;

import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;

/**
 * Device time per {@link StepRegion} of forward steps, from CUDA events recorded between regions. Events are
 * recorded as external records, so a step captured into a CUDA graph records them on every replay: the times are
 * then free of host launch gaps. {@link #mark} closes the region that just ran; the step's marks must be the same
 * sequence for every replay of a graph (they are: a graph is one fixed launch sequence).
 */
final class StepProfiler implements AutoCloseable {
    private final CudaContext ctx;
    private final CudaStream stream;
    private final List<CudaEvent> pool = new ArrayList<>();
    private final List<StepRegion> marks = new ArrayList<>();
    private final Map<StepRegion, Double> totals = new EnumMap<>(StepRegion.class);
    private double stepTotal;
    private int steps;
    private boolean capturing;

    StepProfiler(CudaContext ctx, CudaStream stream) {
        this.ctx = ctx;
        this.stream = stream;
    }

    /** Starts a step's marks (the step's first event). */
    void begin() {
        marks.clear();
        record(0);
    }

    /** Ends {@code region} here. */
    void mark(StepRegion region) {
        marks.add(region);
        record(marks.size());
    }

    /** The marks of the step just queued, to replay with a graph. */
    List<StepRegion> marks() {
        return List.copyOf(marks);
    }

    /** Whether the stream is being captured: external records are only valid then. */
    void capturing(boolean on) {
        capturing = on;
    }

    private void record(int i) {
        while (pool.size() <= i) pool.add(CudaEvent.create(ctx));
        if (capturing) EventRecorder.recordExternal(pool.get(i), stream);
        else pool.get(i).record(stream);
    }

    /** After the step's work finished (the stream was synchronised): adds its region times, {@code regions} in order. */
    void collect(List<StepRegion> regions) {
        double step = 0;
        for (int i = 0; i < regions.size(); i++) {
            double ms = CudaEvent.elapsedMillis(pool.get(i), pool.get(i + 1));
            totals.merge(regions.get(i), ms, Double::sum);
            step += ms;
        }
        stepTotal += step;
        steps++;
    }

    /** Mean device milliseconds per step in each region since the last {@link #reset}. */
    Map<StepRegion, Double> meanMillis() {
        Map<StepRegion, Double> out = new EnumMap<>(StepRegion.class);
        for (StepRegion r : StepRegion.values()) out.put(r, steps == 0 ? 0 : totals.getOrDefault(r, 0.0) / steps);
        return out;
    }

    /** Mean device milliseconds per step, first event to last. */
    double meanStepMillis() {
        return steps == 0 ? 0 : stepTotal / steps;
    }

    void reset() {
        totals.clear();
        stepTotal = 0;
        steps = 0;
    }

    @Override
    public void close() {
        pool.forEach(CudaEvent::close);
        pool.clear();
    }
}
