package dev.moespec.engine.bench;

/** Wall-clock timing ({@link System#nanoTime}) for kernels that compute on the host while {@code forward} runs. */
record HostStageTimer(int warmup, int reps) implements StageTimer {

    HostStageTimer {
        if (warmup < 0 || reps < 1) throw new IllegalArgumentException("need warmup >= 0 and reps >= 1, got " + warmup + ", " + reps);
    }

    @Override
    public Timing time(Runnable stage) {
        for (int i = 0; i < warmup; i++) stage.run();
        double[] us = new double[reps];
        for (int r = 0; r < reps; r++) {
            long t0 = System.nanoTime();
            stage.run();
            us[r] = (System.nanoTime() - t0) / 1e3;
        }
        return Timing.of(us, "host");
    }
}
