package dev.moespec.engine.bench;

/**
 * Times one stage of a kernel (a forward, a route, the experts): warm-up, then the median of many repetitions.
 * {@link HostStageTimer} for kernels on host tensors, {@link DeviceStageTimer} for GPU kernels.
 */
sealed interface StageTimer permits HostStageTimer, DeviceStageTimer {

    /** Runs {@code stage} for warm-up and then {@code reps} timed times. */
    Timing time(Runnable stage);
}
