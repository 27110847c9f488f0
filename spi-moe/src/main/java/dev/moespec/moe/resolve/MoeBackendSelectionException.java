package dev.moespec.moe.resolve;

import dev.moespec.api.config.ModelRole;

import java.util.List;

/**
 * No backend can serve a role as requested: a pinned backend is excluded or rejects the layer, or nothing is
 * eligible under {@code auto} on a GPU. The message names the role, the layer, the device, every rejection and the
 * setting that fixes it.
 */
public final class MoeBackendSelectionException extends RuntimeException {
    private final ModelRole role;
    private final List<SelectionReport.CandidateReport> candidates;

    MoeBackendSelectionException(ModelRole role, String message, List<SelectionReport.CandidateReport> candidates) {
        super(message);
        this.role = role;
        this.candidates = List.copyOf(candidates);
    }

    MoeBackendSelectionException(ModelRole role, String message, Throwable cause) {
        super(message, cause);
        this.role = role;
        this.candidates = List.of();
    }

    public ModelRole role() {
        return role;
    }

    /** How every registered backend fared, as far as resolution got. */
    public List<SelectionReport.CandidateReport> candidates() {
        return candidates;
    }
}
