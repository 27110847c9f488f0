package dev.moespec.api.proposer;

/**
 * The causal drafter networks an engine can build for a proposer from the speculative config's checkpoint
 * ({@code "model"}, or the MTP weights found beside the target). Their math is fixed by the checkpoint format
 * (models/FORMAT.md §5), so the engine, which owns the weights and the MoE kernels, runs them.
 */
public enum DraftNetworkKind {
    /** A complete small LM with its own embeddings, KV cache and MoE layers; entries are plain tokens (§5.4). */
    DRAFT_MODEL,
    /** An EAGLE-1 head: entry {@code (token, feature)} through {@code fc} and one dense decoder layer (§5.1). */
    EAGLE,
    /** A DeepSeek-style MTP layer: {@code eh_proj} over normed embedding and feature, one MoE decoder layer (§5.2). */
    MTP
}
