package dev.moespec.api.config;

/**
 * Which spec-decode config builder a proposer's drafter is built from (see {@link SpecDecodeConfigs}):
 * a separate draft model gets its own model, quantization and parallel configs; heads that live on the
 * target (EAGLE, MTP, Medusa) start from the target's config with the kernel-level overrides applied.
 */
public enum DraftConfigStrategy {
    /** {@code SpecDecodeConfigs.forSpecDecode(target)}: the target's config plus kernel overrides ({@code moe_backend}). */
    FOR_SPEC_DECODE,
    /** {@code SpecDecodeConfigs.forDraftModel(target)}: additionally the draft's own model, quantization and parallel configs. */
    FOR_DRAFT_MODEL;

    /** The drafter's config derived from the target's; {@code target} itself when it has no speculative config. */
    public EngineConfig apply(EngineConfig target) {
        return switch (this) {
            case FOR_SPEC_DECODE -> SpecDecodeConfigs.forSpecDecode(target);
            case FOR_DRAFT_MODEL -> SpecDecodeConfigs.forDraftModel(target);
        };
    }

    /** {@code draft_model} → {@link #FOR_DRAFT_MODEL}; every other method (eagle, mtp, medusa, ngram, plugins) → {@link #FOR_SPEC_DECODE}. */
    public static DraftConfigStrategy defaultFor(String method) {
        return SpeculativeMethods.DRAFT_MODEL.equals(method) ? FOR_DRAFT_MODEL : FOR_SPEC_DECODE;
    }
}
