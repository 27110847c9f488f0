package dev.moespec.engine.spec;

import dev.moespec.engine.generate.StopReason;

import java.util.List;

/**
 * A finished batch: per sequence its new tokens (EOS included when it stopped there) and why it stopped, and the
 * run's metrics.
 */
public record SpecGenerationResult(List<int[]> tokens, List<StopReason> stops, SpecMetrics metrics) {
    public SpecGenerationResult {
        tokens = tokens.stream().map(int[]::clone).toList();
        stops = List.copyOf(stops);
    }

    /** New tokens of sequence {@code i}. */
    public int[] tokens(int i) {
        return tokens.get(i).clone();
    }
}
