package dev.moespec.engine.wiring;

import dev.moespec.api.config.EngineConfig;
import dev.moespec.api.config.ModelConfig;
import dev.moespec.api.config.ModelRole;
import dev.moespec.engine.loader.Checkpoint;
import dev.moespec.engine.loader.CheckpointLayout;
import dev.moespec.engine.model.CpuMoeModel;
import dev.moespec.engine.model.ModelRunner;

import java.util.Optional;

/**
 * Everything one role (target or draft) is built from, as its private Guice module exposes it: the role's own
 * config (for the draft, the output of the spec-decode config builder), its MoE binding, and its kernels. Weights
 * are loaded only when {@link #openRunner} is called, so planning never reads them.
 */
public record RoleRuntime(ModelRole role, EngineConfig config, RoleMoe moe, Optional<MoeKernels> kernels) {

    /**
     * Loads this role's checkpoint and builds its model runner on the CPU, its MoE layers on this role's kernels.
     * The caller closes the runner; the kernels stay with the engine.
     *
     * @param kvCacheBytes the KV-cache memory budget
     * @throws dev.moespec.engine.loader.CheckpointException when the checkpoint is corrupt or incomplete
     * @throws IllegalStateException when the role has no MoE layers (only MoE decoders run today)
     */
    public ModelRunner openRunner(long kvCacheBytes) {
        MoeKernels k = kernels.orElseThrow(() -> new IllegalStateException("the " + role.label()
                + " model has no MoE layers (" + (moe instanceof RoleMoe.NoMoeLayers n ? n.why() : "?")
                + "); moespec runs Qwen3-MoE and Mixtral decoders"));
        ModelConfig model = config.model();
        Checkpoint checkpoint = Checkpoint.open(model.path(), CheckpointLayout.of(model));
        try {
            return new CpuMoeModel(checkpoint, k.layer(), k, kvCacheBytes);
        } catch (RuntimeException e) {
            checkpoint.close();
            throw e;
        }
    }
}
