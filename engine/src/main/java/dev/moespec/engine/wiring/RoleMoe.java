package dev.moespec.engine.wiring;

import dev.moespec.moe.MoeLayerSpec;
import dev.moespec.moe.resolve.MoeBinding;

/** What a role's MoE layers run on: a resolved binding, or nothing because the role has no MoE layers. */
public sealed interface RoleMoe permits RoleMoe.Bound, RoleMoe.NoMoeLayers {

    /** The role runs MoE layers of {@code layer} through {@code binding}. */
    record Bound(MoeLayerSpec layer, MoeBinding binding) implements RoleMoe {}

    /** The role has no MoE layers (an n-gram drafter, a dense EAGLE head); {@code why} says which. */
    record NoMoeLayers(String why) implements RoleMoe {}
}
