package dev.moespec.api.config;

/**
 * Which spec-decode config builder a proposer's drafter is built from (see {@code SpecDecodeConfigs}):
 * a separate draft model gets its own model, quantization and parallel configs; heads that live on the
 * target (EAGLE, MTP, Medusa) start from the target's config with the kernel-level overrides applied.
 */
public enum DraftConfigStrategy {
    /** {@code SpecDecodeConfigs.forSpecDecode(target)}: the target's config plus kernel overrides ({@code moe_backend}). */
    FOR_SPEC_DECODE,
    /** {@code SpecDecodeConfigs.forDraftModel(target)}: additionally the draft's own model, quantization and parallel configs. */
    FOR_DRAFT_MODEL
}
