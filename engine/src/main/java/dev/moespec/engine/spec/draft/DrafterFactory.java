package dev.moespec.engine.spec.draft;

import dev.moespec.api.config.EngineConfig;
import dev.moespec.api.config.SpeculativeConfig;
import dev.moespec.api.proposer.DraftHeads;
import dev.moespec.api.proposer.DraftNetwork;
import dev.moespec.api.proposer.DraftNetworkKind;
import dev.moespec.engine.cuda.CudaFeatureHead;
import dev.moespec.engine.cuda.CudaMedusaHeads;
import dev.moespec.engine.cuda.CudaRunners;
import dev.moespec.engine.loader.Checkpoint;
import dev.moespec.engine.loader.CheckpointLayout;
import dev.moespec.engine.wiring.MoeKernels;
import dev.moespec.engine.wiring.RoleMoe;
import dev.moespec.engine.wiring.RoleRuntime;

import java.nio.file.Path;
import java.util.OptionalInt;

/**
 * Builds the drafter networks proposers ask for, from the DRAFT role: its config (the output of the builder the
 * proposer chose) and its MoE kernels, so {@code "moe_backend"} in the speculative config is what the draft model
 * and the MTP layer run on. The target checkpoint supplies the heads' shared embeddings, norm and lm_head. With a
 * CUDA device every drafter runs there (the draft model as a {@code CudaMoeModel}, EAGLE/MTP as a
 * {@link CudaFeatureHead}, Medusa as {@link CudaMedusaHeads}), its launches counted under the {@code draft} role;
 * otherwise on the CPU.
 */
public final class DrafterFactory {
    private final EngineConfig target;
    private final RoleRuntime draft;
    private final long kvCacheBytes;
    private final OptionalInt cuda;

    /** Drafters on the CPU. */
    public DrafterFactory(EngineConfig target, RoleRuntime draft, long kvCacheBytes) {
        this(target, draft, kvCacheBytes, OptionalInt.empty());
    }

    /**
     * @param target       the target's engine config (with its speculative config)
     * @param draft        the draft role's runtime
     * @param kvCacheBytes the KV-cache budget of each drafter network
     * @param cuda         the CUDA device ordinal the drafters run on, or empty for the CPU
     */
    public DrafterFactory(EngineConfig target, RoleRuntime draft, long kvCacheBytes, OptionalInt cuda) {
        this.target = target;
        this.draft = draft;
        this.kvCacheBytes = kvCacheBytes;
        this.cuda = cuda;
    }

    /** A causal drafter network of {@code kind} over the speculative config's checkpoint. */
    public DraftNetwork network(DraftNetworkKind kind) {
        Path targetDir = target.model().path();
        if (kind == DraftNetworkKind.DRAFT_MODEL) {
            return new RunnerDraftNetwork(cuda.isPresent() ? CudaRunners.open(draft, cuda.getAsInt(), kvCacheBytes)
                    : draft.openRunner(kvCacheBytes));
        }
        Path dir = drafterDir(kind.name().toLowerCase(java.util.Locale.ROOT));
        MoeKernels moe = kind == DraftNetworkKind.MTP ? draftKernels() : null;
        if (cuda.isEmpty()) {
            return kind == DraftNetworkKind.EAGLE ? FeatureHeadNetwork.eagle(dir, targetDir, kvCacheBytes)
                    : FeatureHeadNetwork.mtp(dir, targetDir, moe, kvCacheBytes);
        }
        Checkpoint head = Checkpoint.open(dir, CheckpointLayout.ANY);
        try (Checkpoint t = Checkpoint.open(targetDir, CheckpointLayout.ANY)) {
            return new CudaFeatureHead(kind, head, t, FeatureHeadNetwork.prefix(kind, head), moe, cuda.getAsInt(), kvCacheBytes);
        } catch (RuntimeException e) {
            head.close();
            throw e;
        }
    }

    /** The Medusa-style heads of the speculative config's checkpoint. */
    public DraftHeads heads() {
        Path dir = drafterDir("medusa heads");
        if (cuda.isEmpty()) return MedusaHeadsNetwork.open(dir, target.model().path());
        try (Checkpoint c = Checkpoint.open(dir, CheckpointLayout.ANY);
             Checkpoint t = Checkpoint.open(target.model().path(), CheckpointLayout.ANY)) {
            return new CudaMedusaHeads(c, t, cuda.getAsInt());
        }
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
