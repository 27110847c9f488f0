package dev.moespec.engine.bench;

import dev.moespec.moe.MoeKernel;

import java.util.Optional;

/** Runs one row on one kernel: a checked forward, then the timing. Host and device kernels differ in where tensors live and how time is taken. */
sealed interface RowRunner permits HostRowRunner, DeviceRig.DeviceRowRunner {

    /**
     * @param output the first forward's output {@code [M, H]} as floats (poisoned with NaN before it ran)
     * @param main   the experts stage of a staged kernel, else the whole forward
     * @param align  the route stage of a staged kernel
     * @param staged whether the kernel was timed in two stages
     */
    record Result(float[] output, Timing main, Optional<Timing> align, boolean staged) {}

    Result run(MoeKernel kernel, int tokens);
}
