package dev.moespec.moe.resolve;

/** How a role's MoE backend was chosen. */
public enum SelectionMode {
    /** Named explicitly for this role: {@code --moe-backend X} for the target, {@code "moe_backend": X} for the draft. */
    PINNED,
    /** Chosen by the auto policy ({@code auto} requested or inherited). */
    AUTO,
    /** The draft set no {@code moe_backend} and runs the target's pinned backend, which can run its layers. */
    INHERITED,
    /** The draft inherited a pinned backend that cannot run its layers; the auto policy chose instead. */
    FALLBACK
}
