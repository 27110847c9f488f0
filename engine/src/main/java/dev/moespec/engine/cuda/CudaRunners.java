package dev.moespec.engine.cuda;

import dev.moespec.api.config.ModelConfig;
import dev.moespec.cuda.Cublas;
import dev.moespec.cuda.CublasAvailability;
import dev.moespec.cuda.Cuda;
import dev.moespec.cuda.CudaAvailability;
import dev.moespec.engine.loader.Checkpoint;
import dev.moespec.engine.loader.CheckpointLayout;
import dev.moespec.engine.wiring.MoeKernels;
import dev.moespec.engine.wiring.RoleMoe;
import dev.moespec.engine.wiring.RoleRuntime;

import java.util.Optional;

/** Builds a role's {@link CudaMoeModel} and says, before loading anything, why the GPU runner cannot be used here. */
public final class CudaRunners {
    private CudaRunners() {}

    /**
     * Why the CUDA forward pass cannot run in this process (no GPU, no cuBLAS, engine kernels not built), or empty
     * when it can.
     */
    public static Optional<String> unavailableReason() {
        if (Cuda.available() instanceof CudaAvailability.Unavailable u) return Optional.of(u.reason());
        if (!DecoderKernels.present()) {
            return Optional.of("the engine's CUDA kernels are not in this build (built without nvcc)");
        }
        if (Cublas.available() instanceof CublasAvailability.Unavailable u) return Optional.of(u.reason());
        return Optional.empty();
    }

    /** The system property that turns {@link CudaMoeModel#batchInvariant batch-invariant mode} on for every runner. */
    public static final String BATCH_INVARIANT_PROPERTY = "moespec.batch_invariant";
    /** The environment variable that does the same (as vLLM's {@code VLLM_BATCH_INVARIANT}). */
    public static final String BATCH_INVARIANT_ENV = "MOESPEC_BATCH_INVARIANT";

    /**
     * Whether runners open in batch-invariant mode: {@code -Dmoespec.batch_invariant=true} or
     * {@code MOESPEC_BATCH_INVARIANT=1} (the property wins when both are set).
     */
    public static boolean batchInvariantRequested() {
        String p = System.getProperty(BATCH_INVARIANT_PROPERTY);
        String v = p != null ? p : System.getenv(BATCH_INVARIANT_ENV);
        return v != null && (v.equalsIgnoreCase("true") || v.equals("1"));
    }

    /**
     * Loads {@code role}'s checkpoint onto device {@code ordinal}, its MoE layers on the role's own kernels; its
     * launches are counted under the role's label ({@code target}, {@code draft}).
     *
     * @throws IllegalStateException when the role has no MoE layers or CUDA cannot be used (the message says why)
     */
    public static CudaMoeModel open(RoleRuntime role, int ordinal, long kvCacheBytes) {
        Optional<String> why = unavailableReason();
        if (why.isPresent()) throw new IllegalStateException("the CUDA forward pass cannot run here: " + why.get());
        MoeKernels k = role.kernels().orElseThrow(() -> new IllegalStateException("the " + role.role().label()
                + " model has no MoE layers (" + (role.moe() instanceof RoleMoe.NoMoeLayers n ? n.why() : "?")
                + "); moespec runs Qwen3-MoE and Mixtral decoders"));
        ModelConfig model = role.config().model();
        Checkpoint checkpoint = Checkpoint.open(model.path(), CheckpointLayout.of(model));
        try {
            CudaMoeModel runner = new CudaMoeModel(checkpoint, k, ordinal, kvCacheBytes, role.role().label());
            runner.batchInvariant(batchInvariantRequested());
            return runner;
        } catch (RuntimeException e) {
            checkpoint.close();
            throw e;
        }
    }
}
