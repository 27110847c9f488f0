package dev.moespec.backend.auto;

import dev.moespec.api.config.QuantScheme;
import dev.moespec.moe.Phase;

import java.util.EnumSet;
import java.util.List;
import java.util.Objects;
import java.util.Set;

/**
 * One row of the {@code auto} heuristic table: for these quantizations on these device classes in these
 * phases, try these backends in this order.
 *
 * @param quants  the quantizations the row covers
 * @param devices the device classes the row covers
 * @param phases  decode, prefill or both
 * @param choices backends in order of preference, each with the reason a user reads in {@code moespec plan};
 *                may be empty (nothing built-in fits: registered third-party backends and the CPU reference follow)
 */
public record HeuristicRow(Set<QuantScheme> quants, Set<DeviceClass> devices, Set<Phase> phases, List<Choice> choices) {

    public HeuristicRow {
        quants = Set.copyOf(nonEmpty(quants, "quants"));
        devices = Set.copyOf(nonEmpty(devices, "devices"));
        phases = Set.copyOf(nonEmpty(phases, "phases"));
        choices = List.copyOf(choices);
        if (choices.stream().map(Choice::backend).distinct().count() != choices.size()) {
            throw new IllegalArgumentException("a heuristic row names a backend twice: " + choices);
        }
    }

    /** A row for both phases. */
    public static HeuristicRow of(Set<QuantScheme> quants, Set<DeviceClass> devices, Choice... choices) {
        return new HeuristicRow(quants, devices, EnumSet.allOf(Phase.class), List.of(choices));
    }

    public boolean matches(QuantScheme quant, DeviceClass device, Phase phase) {
        return quants.contains(quant) && devices.contains(device) && phases.contains(phase);
    }

    /** {@code fp8_block_128 | sm >= 89 | decode, prefill}: how a row is named in table errors and docs. */
    public String describe() {
        return "%s | %s | %s".formatted(
                quants.stream().map(QuantScheme::cliName).sorted().toList(),
                devices.stream().sorted().map(DeviceClass::label).toList(),
                phases.stream().sorted().map(Phase::label).toList());
    }

    private static <T> Set<T> nonEmpty(Set<T> set, String what) {
        if (Objects.requireNonNull(set, what).isEmpty()) throw new IllegalArgumentException("a heuristic row needs at least one of " + what);
        return set;
    }

    /** A backend of a row and why it is in that place. */
    public record Choice(String backend, String why) {
        public Choice {
            Objects.requireNonNull(backend, "backend");
            Objects.requireNonNull(why, "why");
        }
    }
}
