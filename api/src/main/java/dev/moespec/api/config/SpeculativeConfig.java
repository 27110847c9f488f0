package dev.moespec.api.config;

import java.nio.file.Path;
import java.util.List;
import java.util.Objects;
import java.util.Optional;

/**
 * A validated speculative-decoding config, resolved against its target (vLLM's {@code SpeculativeConfig} after
 * {@code __post_init__} and {@code _verify_args}). Built by {@link #resolve}; the rules are listed in
 * {@code api/README.md}.
 *
 * @param method                  the resolved method: a {@link SpeculativeMethods} name or a proposer plugin's
 * @param model                   the draft checkpoint's absolute path, {@code "ngram"}, or a plugin method's raw
 *                                {@code model} string; empty for a plugin method without one
 * @param numSpeculativeTokens    K, the tokens drafted per step (> 0)
 * @param moeBackend              the draft's MoE backend override; empty = inherit the target's
 * @param quantization            the spec's {@code quantization} as given; empty = the draft checkpoint's own
 * @param draftTensorParallelSize 1 or the target's TP
 * @param draftMaxModelLen        the draft's max length: ≤ the draft's and the target's
 * @param promptLookupMin         n-gram window minimum (ngram only; 0 otherwise, as vLLM zeroes it)
 * @param promptLookupMax         n-gram window maximum (ngram only; 0 otherwise)
 * @param draftModelConfig        the checkpoint holding the drafter's weights: the draft model, EAGLE head, MTP
 *                                layer (beside or inside the target) or Medusa heads; empty for ngram
 * @param draftQuant              the spec's {@code quantization} if set, else recomputed from that checkpoint
 *                                (the target's when there is no checkpoint)
 * @param warnings                notes for the user (deprecated method names, ignored keys)
 * @param siblingDrafts           sibling drafts per round (0..K, {@code sibling_drafts}): EAGLE and MTP also verify
 *                                the head's second choice at depths 1..siblingDrafts of the chain, where greedy rounds
 *                                run fused on the GPU; 0 = a chain, as vLLM drafts it
 */
public record SpeculativeConfig(String method, Optional<String> model, int numSpeculativeTokens,
                                Optional<String> moeBackend, Optional<String> quantization,
                                int draftTensorParallelSize, int draftMaxModelLen, int promptLookupMin,
                                int promptLookupMax, Optional<ModelConfig> draftModelConfig, QuantConfig draftQuant,
                                List<String> warnings, int siblingDrafts) {

    public SpeculativeConfig {
        Objects.requireNonNull(method, "method");
        Objects.requireNonNull(model, "model");
        Objects.requireNonNull(moeBackend, "moeBackend");
        Objects.requireNonNull(quantization, "quantization");
        Objects.requireNonNull(draftModelConfig, "draftModelConfig");
        Objects.requireNonNull(draftQuant, "draftQuant");
        warnings = List.copyOf(warnings);
        moeBackend = moeBackend.map(KernelConfig::normalizeBackend);
        if (numSpeculativeTokens <= 0) {
            throw new ConfigException("num_speculative_tokens must be > 0, got " + numSpeculativeTokens);
        }
        if (siblingDrafts < 0 || siblingDrafts > numSpeculativeTokens) {
            throw new ConfigException("sibling_drafts=" + siblingDrafts + " must be between 0 and num_speculative_tokens="
                    + numSpeculativeTokens + ": at most one sibling per chain draft");
        }
        if (draftTensorParallelSize < 1 || draftMaxModelLen < 1) {
            throw new ConfigException("draft tensor parallel size and draft max_model_len must be >= 1");
        }
    }

    /**
     * Applies the validation rules to {@code spec} for {@code target}.
     *
     * @param target           the target's engine config (its own speculative config, if any, is ignored)
     * @param workingDirectory where a relative {@code model} path is looked up first (then beside the target)
     */
    public static SpeculativeConfig resolve(SpeculativeSpec spec, EngineConfig target, Path workingDirectory) {
        return new SpeculativeConfigResolver(spec, target, workingDirectory).resolve();
    }

    /** The draft's parallel config: its own TP, one pipeline stage, the target worker's rank. */
    public ParallelConfig draftParallel(ParallelConfig target) {
        return new ParallelConfig(draftTensorParallelSize, 1, target.rank());
    }

    /** Whether the drafter is a separate model with its own layers, KV cache and vocabulary ({@code draft_model}). */
    public boolean usesDraftModel() {
        return method.equals(SpeculativeMethods.DRAFT_MODEL);
    }
}
