package dev.moespec.engine.wiring;

import dev.moespec.api.config.EngineConfig;
import dev.moespec.api.config.ModelRole;

import java.util.Optional;

/**
 * Everything one role (target or draft) is built from, as its private Guice module exposes it: the role's own
 * config (for the draft, the output of the spec-decode config builder), its MoE binding, and its kernels.
 */
public record RoleRuntime(ModelRole role, EngineConfig config, RoleMoe moe, Optional<MoeKernels> kernels) {
}
