package dev.moespec.engine.spec.draft;

import dev.moespec.api.config.EngineConfig;
import dev.moespec.api.config.SpeculativeConfig;
import dev.moespec.api.proposer.DraftHeads;
import dev.moespec.api.proposer.DraftNetwork;
import dev.moespec.api.proposer.DraftNetworkKind;
import dev.moespec.engine.wiring.MoeKernels;
import dev.moespec.engine.wiring.RoleMoe;
import dev.moespec.engine.wiring.RoleRuntime;

import java.nio.file.Path;

/**
 * Builds the drafter networks proposers ask for, from the DRAFT role: its config (the output of the builder the
 * proposer chose) and its MoE kernels, so {@code "moe_backend"} in the speculative config is what the draft model
 * and the MTP layer run on. The target checkpoint supplies the heads' shared embeddings, norm and lm_head.
 */
public final class DrafterFactory {
    private final EngineConfig target;
    private final RoleRuntime draft;
    private final long kvCacheBytes;

    /**
     * @param target       the target's engine config (with its speculative config)
     * @param draft        the draft role's runtime
     * @param kvCacheBytes the KV-cache budget of each drafter network
     */
    public DrafterFactory(EngineConfig target, RoleRuntime draft, long kvCacheBytes) {
        this.target = target;
        this.draft = draft;
        this.kvCacheBytes = kvCacheBytes;
    }

    /** A causal drafter network of {@code kind} over the speculative config's checkpoint. */
    public DraftNetwork network(DraftNetworkKind kind) {
        Path dir = drafterDir(kind.name().toLowerCase(java.util.Locale.ROOT));
        Path targetDir = target.model().path();
        return switch (kind) {
            case DRAFT_MODEL -> new RunnerDraftNetwork(draft.openRunner(kvCacheBytes));
            case EAGLE -> FeatureHeadNetwork.eagle(dir, targetDir, kvCacheBytes);
            case MTP -> FeatureHeadNetwork.mtp(dir, targetDir, draftKernels(), kvCacheBytes);
        };
    }

    /** The Medusa-style heads of the speculative config's checkpoint. */
    public DraftHeads heads() {
        return MedusaHeadsNetwork.open(drafterDir("medusa heads"), target.model().path());
    }

    private MoeKernels draftKernels() {
        return draft.kernels().orElseThrow(() -> new IllegalStateException("the MTP drafter has no MoE layers to run ("
                + (draft.moe() instanceof RoleMoe.NoMoeLayers n ? n.why() : "no binding")
                + "); pass an MTP checkpoint with an MoE layer as \"model\""));
    }

    private Path drafterDir(String what) {
        SpeculativeConfig spec = target.speculative().orElseThrow(() -> new IllegalStateException(
                "no --speculative-config, so there is no drafter to build"));
        return spec.draftModelConfig().map(m -> m.path()).orElseThrow(() -> new IllegalStateException("method '"
                + spec.method() + "' has no drafter checkpoint, so a " + what + " network cannot be built; pass"
                + " \"model\" in --speculative-config"));
    }
}
