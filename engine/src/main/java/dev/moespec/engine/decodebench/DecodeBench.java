package dev.moespec.engine.decodebench;

import dev.moespec.api.config.EngineConfig;
import dev.moespec.api.config.ModelConfig;
import dev.moespec.api.device.DeviceInfo;
import dev.moespec.engine.cuda.CudaMoeModel;
import dev.moespec.engine.cuda.CudaRunners;
import dev.moespec.engine.cuda.RowSampling;
import dev.moespec.engine.cuda.StepRegion;
import dev.moespec.engine.model.ModelRunner;
import dev.moespec.engine.model.SequenceChunk;
import dev.moespec.engine.model.StepOutput;
import dev.moespec.engine.sampling.Sampler;
import dev.moespec.engine.wiring.Engine;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * {@code moespec bench decode}: greedy decode throughput of one model for several batch sizes, on the CPU path and
 * on the GPU path with CUDA graphs off and on. Each batch holds sequences of different prompt lengths (prefilled in
 * one step); then {@code steps} decode steps are timed, after warm-up steps (which also capture the graphs).
 *
 * <p>On the GPU the step is split into regions (attention, MoE, dense GEMMs, sampling, other) by CUDA events
 * recorded inside the captured graph (so without launch gaps), scaled to the device time of the plain graph
 * replay. The Java-side dispatch share is the median host time to queue a step (Java code plus the driver calls it
 * makes; measured after a JIT warm-up, see {@link #jitWarmup}) over the median wall time of the step; the host share
 * is everything that is not device time
 * ({@code 1 - device / wall}: dispatch the device waits for, launch latency, read-back, synchronisation).
 */
public final class DecodeBench {
    /**
     * @param model      checkpoint directory
     * @param moeBackend the target's {@code --moe-backend}
     * @param batches    batch sizes, each at most 64 (one decode graph bucket)
     * @param steps      timed decode steps per configuration
     * @param warmup     untimed steps first
     * @param cpu        run the CPU path
     * @param gpu        run the GPU path
     * @param kvBytes    KV-cache budget of each runner
     * @param jitWarmup  GPU decode steps run once before any configuration, so that the dispatch code is compiled
     */
    public record Options(Path model, String moeBackend, int[] batches, int steps, int warmup, boolean cpu, boolean gpu,
                          long kvBytes, int jitWarmup) {
        public Options {
            if (jitWarmup < 0) throw new IllegalArgumentException("--jit-warmup must be >= 0, got " + jitWarmup);
            Objects.requireNonNull(model, "model");
            batches = batches.clone();
            for (int b : batches) {
                if (b < 1 || b > 64) throw new IllegalArgumentException("batch sizes must be in 1..64 (one decode step), got " + b);
            }
            if (steps < 1) throw new IllegalArgumentException("--steps must be >= 1, got " + steps);
            if (warmup < 1) throw new IllegalArgumentException("--warmup must be >= 1 (the first steps capture the graphs), got " + warmup);
        }
    }

    /** Prompt lengths cycle through these offsets so a batch mixes lengths. */
    private static final int BASE_PROMPT = 24;

    private DecodeBench() {}

    public static List<DecodeBenchRow> run(Options o, DeviceInfo gpuDevice, ClassLoader loader, PrintWriter progress) {
        List<DecodeBenchRow> rows = new ArrayList<>();
        EngineConfig config = EngineConfig.builder(ModelConfig.load(o.model())).moeBackend(o.moeBackend()).build();
        int vocabStart = 32; // printable bytes of the byte-level demo vocabulary
        if (o.cpu()) {
            try (Engine engine = Engine.build(config, DeviceInfo.cpu("bench decode --device cpu"), loader);
                 ModelRunner runner = engine.target().openRunner(o.kvBytes())) {
                for (int b : o.batches()) {
                    progress.printf("bench decode: cpu batch %d%n", b);
                    progress.flush();
                    rows.add(cpuRow(runner, o, b, vocabStart));
                }
            }
        }
        if (o.gpu()) {
            if (!gpuDevice.isCuda()) throw new IllegalStateException("bench decode on the GPU needs a CUDA device: " + gpuDevice.describe());
            try (Engine engine = Engine.build(config, gpuDevice, loader);
                 CudaMoeModel runner = CudaRunners.open(engine.target(), gpuDevice.ordinal(), o.kvBytes())) {
                progress.printf("bench decode: %s JIT warm-up, %d steps%n", runner.device(), o.jitWarmup());
                progress.flush();
                jitWarmup(runner, o.jitWarmup(), vocabStart);
                for (int b : o.batches()) {
                    progress.printf("bench decode: %s batch %d%n", runner.device(), b);
                    progress.flush();
                    rows.addAll(gpuRows(runner, o, b, vocabStart));
                }
            }
        }
        return rows;
    }

    private static int[] prompt(int i, int vocabStart, int vocab) {
        int[] ids = new int[BASE_PROMPT + (i * 5) % 17];
        for (int j = 0; j < ids.length; j++) ids[j] = vocabStart + (i * 7 + j * 3) % Math.max(1, Math.min(95, vocab - vocabStart));
        return ids;
    }

    private static int[] openAndPrefill(ModelRunner r, int b, int tokens, int vocabStart, int[] next) {
        int[] seqs = new int[b];
        List<SequenceChunk> chunks = new ArrayList<>();
        for (int i = 0; i < b; i++) {
            int[] p = prompt(i, vocabStart, r.config().vocabSize());
            seqs[i] = r.open(p.length + tokens);
            chunks.add(SequenceChunk.last(seqs[i], p));
        }
        StepOutput out = r.step(chunks);
        for (int i = 0; i < b; i++) next[i] = Sampler.argmax(out.lastLogits(i));
        return seqs;
    }

    private static DecodeBenchRow cpuRow(ModelRunner r, Options o, int b, int vocabStart) {
        int[] next = new int[b];
        int[] seqs = openAndPrefill(r, b, o.warmup() + o.steps() + 1, vocabStart, next);
        try {
            long[] times = new long[o.steps()];
            for (int s = 0; s < o.warmup() + o.steps(); s++) {
                List<SequenceChunk> chunks = new ArrayList<>(b);
                for (int i = 0; i < b; i++) chunks.add(SequenceChunk.last(seqs[i], next[i]));
                long t0 = System.nanoTime();
                StepOutput out = r.step(chunks);
                for (int i = 0; i < b; i++) next[i] = Sampler.argmax(out.lastLogits(i));
                if (s >= o.warmup()) times[s - o.warmup()] = System.nanoTime() - t0;
            }
            double ms = median(times) / 1e6;
            return new DecodeBenchRow("cpu", b, "-", ms, b * 1000.0 / ms, Map.of(), Double.NaN, Double.NaN);
        } finally {
            for (int s : seqs) r.release(s);
        }
    }

    private static List<DecodeBenchRow> gpuRows(CudaMoeModel r, Options o, int b, int vocabStart) {
        RowSampling[] greedy = new RowSampling[b];
        Arrays.fill(greedy, RowSampling.GREEDY);
        // each pass starts from freshly prefilled sequences, so all three decode the same positions (attention
        // cost grows with the context: continuing the sequences would favour whichever pass ran first)
        r.profile(false);
        r.useGraphs(false);
        Pass off = pass(r, o, b, vocabStart, greedy);
        r.useGraphs(true);
        Pass on = pass(r, o, b, vocabStart, greedy);
        String onLabel = r.graphsOn() ? "on" : "failed"; // capture failed: those steps ran eagerly
        // region split: graphs on, events recorded inside the graph (they add a little time of their own, so only
        // the proportions are used, scaled to the device time of the plain graph)
        r.profile(true);
        int[] next = new int[b];
        int[] seqs = openAndPrefill(r, b, o.warmup() + o.steps() + 1, vocabStart, next);
        try {
            for (int s = 0; s < o.warmup(); s++) next = r.decode(seqs, next, greedy);
            r.resetProfile();
            for (int s = 0; s < o.steps(); s++) next = r.decode(seqs, next, greedy);
        } finally {
            for (int s : seqs) r.release(s);
        }
        Map<StepRegion, Double> regionMs = r.regionMillis();
        double profiledMs = r.profiledStepMillis();
        r.profile(false);
        // device work of a step: the graph replay's span (graphs off spread the same work over host gaps)
        double deviceMs = on.deviceMs();
        List<DecodeBenchRow> out = new ArrayList<>();
        for (int mode = 0; mode < 2; mode++) {
            Pass p = mode == 0 ? off : on;
            Map<StepRegion, Double> share = new EnumMap<>(StepRegion.class);
            double busy = Math.min(1.0, deviceMs / p.wallMs());
            for (var e : regionMs.entrySet()) share.put(e.getKey(), profiledMs == 0 ? 0 : e.getValue() / profiledMs * busy);
            out.add(new DecodeBenchRow(r.device(), b, mode == 0 ? "off" : onLabel, p.wallMs(), b * 1000.0 / p.wallMs(), share,
                    p.queueMs() / p.wallMs(), 1 - busy));
        }
        return out;
    }

    /**
     * Decode steps whose only purpose is to let the JIT compile the step's dispatch code (the per-configuration
     * warm-up is too short for that), graphs on and off, at batch 1, on fresh sequences of at most
     * {@link #JIT_ROUND} steps each so that no sequence outgrows the model's positions. A serving engine runs
     * millions of steps, so the Java-side share is measured on compiled code.
     */
    private static void jitWarmup(CudaMoeModel r, int steps, int vocabStart) {
        RowSampling[] greedy = {RowSampling.GREEDY};
        for (boolean graphs : new boolean[] {true, false}) {
            r.useGraphs(graphs);
            for (int done = 0; done < steps; done += JIT_ROUND) {
                int n = Math.min(JIT_ROUND, steps - done);
                int[] next = new int[1];
                int[] seqs = openAndPrefill(r, 1, n + 1, vocabStart, next);
                try {
                    for (int s = 0; s < n; s++) next = r.decode(seqs, next, greedy);
                } finally {
                    r.release(seqs[0]);
                }
            }
        }
    }

    /** Steps of one sequence in the JIT warm-up (well inside any model's max positions). */
    private static final int JIT_ROUND = 500;

    /** Prefills {@code b} fresh sequences, then warm-up and timed decode steps; releases them. */
    private static Pass pass(CudaMoeModel r, Options o, int b, int vocabStart, RowSampling[] greedy) {
        int[] next = new int[b];
        int[] seqs = openAndPrefill(r, b, o.warmup() + o.steps() + 1, vocabStart, next);
        try {
            return timeSteps(r, o, seqs, next, greedy);
        } finally {
            for (int s : seqs) r.release(s);
        }
    }

    /** Median wall ms of a step, and the mean host queue and device ms. */
    private record Pass(double wallMs, double queueMs, double deviceMs) {}

    private static Pass timeSteps(CudaMoeModel r, Options o, int[] seqs, int[] next, RowSampling[] greedy) {
        long[] times = new long[o.steps()];
        int[] cur = next.clone();
        for (int s = 0; s < o.warmup(); s++) cur = r.decode(seqs, cur, greedy);
        r.timeSteps(true);
        for (int s = 0; s < o.steps(); s++) {
            long t0 = System.nanoTime();
            cur = r.decode(seqs, cur, greedy);
            times[s] = System.nanoTime() - t0;
        }
        var t = r.stepTimes();
        r.timeSteps(false);
        System.arraycopy(cur, 0, next, 0, next.length);
        return new Pass(median(times) / 1e6, t.queueMillis(), t.deviceMillis());
    }

    static double median(long[] v) {
        long[] s = v.clone();
        Arrays.sort(s);
        return s.length % 2 == 1 ? s[s.length / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2.0;
    }
}
