package dev.moespec.api.proposer;

import dev.moespec.api.device.DeviceInfo;

/**
 * What the engine hands a {@link ProposerProvider} when it creates a proposer. Passed in, never global.
 *
 * <p>An interface rather than a record so that it can grow: later hooks (for example access to a draft network
 * built with the draft's own config) arrive as default methods here, and neither existing providers nor
 * existing context implementations break. The numbers themselves live in the validated {@link ProposerSettings}
 * record, which is also the simplest context; a richer engine context delegates {@link #settings()} to one, so
 * every context a proposer sees carries validated values.
 */
public interface ProposerContext {

    /** The validated speculative settings; never {@code null}. */
    ProposerSettings settings();

    /** Tokens to propose per sequence and step ({@code num_speculative_tokens}, k ≥ 1). */
    default int numSpeculativeTokens() {
        return settings().numSpeculativeTokens();
    }

    /** Shortest n-gram a lookup proposer may match ({@code prompt_lookup_min}). */
    default int promptLookupMin() {
        return settings().promptLookupMin();
    }

    /** Longest n-gram a lookup proposer may match ({@code prompt_lookup_max}). */
    default int promptLookupMax() {
        return settings().promptLookupMax();
    }

    /** The target's maximum sequence length; history plus proposals never exceed it. */
    default int maxModelLen() {
        return settings().maxModelLen();
    }

    /** The target's vocabulary size; every proposed token id is below it. */
    default int vocabSize() {
        return settings().vocabSize();
    }

    /**
     * The device the engine runs the target on. A proposer with CUDA kernels runs them there when this is a CUDA
     * device (and its jar carries kernels), and on the CPU otherwise; either way its drafts are the same. This
     * default (a context without an engine behind it, e.g. {@link ProposerSettings}) answers the CPU.
     */
    default DeviceInfo device() {
        return DeviceInfo.cpu("this proposer context names no device (no engine behind it)");
    }

    /**
     * Builds the causal drafter network of {@code kind} over the speculative config's checkpoint, with the draft
     * role's config and MoE kernels. The proposer owns the result and closes it.
     *
     * @throws IllegalStateException when this context has no drafter checkpoint or cannot build that kind (this
     *                               default: a context without an engine behind it, e.g. {@link ProposerSettings})
     */
    default DraftNetwork openDraftNetwork(DraftNetworkKind kind) {
        throw new IllegalStateException("this proposer context has no engine behind it, so it cannot build a "
                + kind + " drafter network; create the proposer through the engine (moespec generate), or use a"
                + " model-free method such as ngram");
    }

    /**
     * Builds the Medusa-style heads of the speculative config's checkpoint. The proposer owns the result.
     *
     * @throws IllegalStateException when this context has no heads checkpoint (this default)
     */
    default DraftHeads openDraftHeads() {
        throw new IllegalStateException("this proposer context has no engine behind it, so it cannot build drafter"
                + " heads; create the proposer through the engine (moespec generate)");
    }
}
