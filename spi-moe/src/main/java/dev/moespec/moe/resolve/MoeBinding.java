package dev.moespec.moe.resolve;

import dev.moespec.api.config.ModelRole;
import dev.moespec.moe.MoeBackendProvider;
import dev.moespec.moe.Phase;

import java.util.List;
import java.util.Objects;

/**
 * The MoE backend(s) one role runs: one {@link Choice} per {@link Phase}, handed to that role's model builder.
 * Immutable and per role — never a process-wide "current backend". Serialise {@link #report()}, not the binding
 * (it holds provider objects).
 *
 * @param role      the model this binding belongs to
 * @param requested the normalised name that was asked for ({@code auto}, or the pinned/inherited backend)
 * @param mode      how the backends were chosen
 * @param choices   exactly one per phase, in {@link Phase} order
 * @param report    what was chosen and why every other backend was not
 */
public record MoeBinding(ModelRole role, String requested, SelectionMode mode, List<Choice> choices, SelectionReport report) {

    public MoeBinding {
        Objects.requireNonNull(role, "role");
        Objects.requireNonNull(requested, "requested");
        Objects.requireNonNull(mode, "mode");
        Objects.requireNonNull(report, "report");
        choices = List.copyOf(choices);
        if (choices.size() != Phase.values().length) {
            throw new IllegalArgumentException("a binding needs one choice per phase, got " + choices);
        }
        for (int p = 0; p < choices.size(); p++) {
            if (choices.get(p).phase() != Phase.values()[p]) {
                throw new IllegalArgumentException("choices must be ordered by phase (decode, prefill), got " + choices);
            }
        }
    }

    /** The backend serving a forward call of {@code tokens} tokens. */
    public Choice choiceFor(int tokens) {
        return choiceFor(Phase.of(tokens));
    }

    public Choice choiceFor(Phase phase) {
        return choices.get(phase.ordinal());
    }

    /**
     * The backend chosen for one phase.
     *
     * @param rationale why it won, as shown in the report
     */
    public record Choice(Phase phase, MoeBackendProvider provider, String rationale) {
        public Choice {
            Objects.requireNonNull(phase, "phase");
            Objects.requireNonNull(provider, "provider");
            Objects.requireNonNull(rationale, "rationale");
        }

        public String backend() {
            return provider.name();
        }
    }
}
