package dev.moespec.api.config;

import java.util.List;

/**
 * The built-in speculative methods. {@code method} stays a string: a proposer jar may add its own
 * lower_snake method name, which is accepted without the built-in rules.
 */
public final class SpeculativeMethods {
    private SpeculativeMethods() {}

    public static final String NGRAM = "ngram";
    public static final String DRAFT_MODEL = "draft_model";
    public static final String EAGLE = "eagle";
    public static final String EAGLE3 = "eagle3";
    public static final String MEDUSA = "medusa";
    public static final String MTP = "mtp";

    public static final List<String> BUILT_IN = List.of(DRAFT_MODEL, EAGLE, EAGLE3, MEDUSA, MTP, NGRAM);

    /** Methods whose drafter has weights in a checkpoint directory (its own, or the target's for MTP). */
    public static boolean usesCheckpoint(String method) {
        return switch (method) {
            case DRAFT_MODEL, EAGLE, EAGLE3, MEDUSA, MTP -> true;
            default -> false;
        };
    }

    /** vLLM's model-specific MTP names ({@code deepseek_mtp}, {@code qwen3_next_mtp}, ...): rewritten to {@link #MTP}. */
    public static boolean isModelSpecificMtp(String method) {
        return method.endsWith("_mtp");
    }
}
