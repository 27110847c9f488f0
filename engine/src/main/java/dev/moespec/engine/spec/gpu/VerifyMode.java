package dev.moespec.engine.spec.gpu;

/** Which rule {@link GpuRejectionSampler} verifies drafts with (the two forms of {@code RejectionSampler}). */
public enum VerifyMode {
    /** Argmax match; the target's argmax is the correction or the bonus token. */
    GREEDY,
    /** Accept while p_target / p_draft ≥ u; recovered token from max(p_target − p_draft, 0); bonus from p_target. */
    PROBABILISTIC
}
