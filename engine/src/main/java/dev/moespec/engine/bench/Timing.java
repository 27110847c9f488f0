package dev.moespec.engine.bench;

/**
 * One stage's timing.
 *
 * @param medianUs the median over {@code reps} repetitions, microseconds
 * @param minUs    the fastest repetition
 * @param reps     how many repetitions were timed (after the warm-up)
 * @param mode     {@code graph} (CUDA-graph replay), {@code eager} (launches from the host each time; with the
 *                 reason when capture was tried and failed) or {@code host} (a CPU kernel, wall clock)
 */
public record Timing(double medianUs, double minUs, int reps, String mode) {

    /** The median and minimum of {@code samplesUs} (sorted in place). */
    static Timing of(double[] samplesUs, String mode) {
        java.util.Arrays.sort(samplesUs);
        int n = samplesUs.length;
        double median = n % 2 == 1 ? samplesUs[n / 2] : (samplesUs[n / 2 - 1] + samplesUs[n / 2]) / 2;
        return new Timing(median, samplesUs[0], n, mode);
    }
}
