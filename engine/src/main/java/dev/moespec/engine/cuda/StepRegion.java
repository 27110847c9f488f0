package dev.moespec.engine.cuda;

/** The parts of a forward step that {@code bench decode} reports separately. */
public enum StepRegion {
    /** q/k norm, RoPE, KV append and attention. */
    ATTENTION,
    /** The MoE layers through the role's backend (routing included). */
    MOE,
    /** cuBLAS GEMMs: QKV, O, router, lm_head. */
    DENSE_GEMM,
    /** The sampling kernel. */
    SAMPLING,
    /** Embedding gather, RMSNorms, residual adds. */
    OTHER
}
