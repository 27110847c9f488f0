package dev.moespec.engine.spec;

import dev.moespec.api.config.EngineConfig;
import dev.moespec.api.config.SpeculativeConfig;
import dev.moespec.api.proposer.Proposer;
import dev.moespec.api.proposer.ProposerProvider;
import dev.moespec.api.proposer.ProposerSettings;
import dev.moespec.engine.cuda.CudaRunners;
import dev.moespec.engine.model.ModelRunner;
import dev.moespec.engine.spec.draft.DrafterFactory;
import dev.moespec.engine.spec.gpu.FusedDrafting;
import dev.moespec.engine.spec.gpu.VerifierPlacement;
import dev.moespec.engine.wiring.Engine;
import dev.moespec.engine.wiring.MoeKernels;
import dev.moespec.engine.wiring.RoleMoe;
import dev.moespec.engine.wiring.RoleRuntime;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalInt;

/**
 * One engine's loaded models for generation: the target's runner and, when the config is speculative, the
 * proposer its method names (found in the engine's proposer registry and created with an engine context, so it
 * can build its drafter with the draft role's config and MoE kernels). Closes both. When the engine was built for
 * a CUDA device, every role runs there: the target as a {@code CudaMoeModel} (launches counted under
 * {@code target}) and the drafter on the GPU (under {@code draft}); on a CPU engine, both run on the CPU.
 */
public final class SpecDecodeSession implements AutoCloseable {
    private final ModelRunner target;
    private final Optional<Proposer> proposer;
    private final String method;
    private final EngineProposerContext context;
    private final Map<String, String> backends = new LinkedHashMap<>();
    private final BatchVerifier verifier;
    private final int siblingDrafts;

    private SpecDecodeSession(ModelRunner target, Optional<Proposer> proposer, String method,
                              EngineProposerContext context, Optional<RoleRuntime> draft, BatchVerifier verifier,
                              int siblingDrafts) {
        this.verifier = verifier;
        this.siblingDrafts = siblingDrafts;
        this.target = target;
        this.proposer = proposer;
        this.method = method;
        this.context = context;
        backends.put("target", target.moeBackend());
        draft.ifPresent(d -> backends.put("draft", describe(d)));
    }

    /**
     * Loads the target and, if speculative, the proposer.
     *
     * @param kvCacheBytes the target's KV-cache budget (each drafter network gets the same)
     * @throws dev.moespec.api.proposer.ProposerRegistryException when no jar provides the method
     */
    public static SpecDecodeSession open(Engine engine, long kvCacheBytes) {
        EngineConfig config = engine.target().config();
        OptionalInt cuda = engine.device().isCuda() ? OptionalInt.of(engine.device().ordinal()) : OptionalInt.empty();
        ModelRunner target = cuda.isPresent() ? CudaRunners.open(engine.target(), cuda.getAsInt(), kvCacheBytes)
                : engine.target().openRunner(kvCacheBytes);
        try {
            Optional<SpeculativeConfig> spec = config.speculative();
            if (spec.isEmpty()) {
                return new SpecDecodeSession(target, Optional.empty(), "none", null, Optional.empty(), BatchVerifier.host(),
                        0);
            }
            SpeculativeConfig s = spec.get();
            ProposerProvider provider = engine.proposers().require(s.method());
            RoleRuntime draft = engine.draft().orElseThrow();
            ProposerSettings settings = new ProposerSettings(s.numSpeculativeTokens(), Math.max(1, s.promptLookupMin()),
                    Math.max(1, Math.max(s.promptLookupMin(), s.promptLookupMax())), config.maxModelLen(),
                    config.model().vocabSize());
            EngineProposerContext context = new EngineProposerContext(settings,
                    new DrafterFactory(config, draft, kvCacheBytes, cuda), engine.device());
            Proposer proposer = provider.create(context);
            try {
                BatchVerifier verifier = VerifierPlacement.open(cuda);
                return new SpecDecodeSession(target, Optional.of(proposer), provider.method(), context, Optional.of(draft),
                        verifier, s.siblingDrafts());
            } catch (RuntimeException e) {
                proposer.close();
                throw e;
            }
        } catch (RuntimeException e) {
            target.close();
            throw e;
        }
    }

    /** A generator over this session's models; {@code eosId} ends a sequence unless ignored. */
    public SpeculativeGenerator generator(int eosId) {
        return new SpeculativeGenerator(target, proposer, method, context, eosId, backends, verifier,
                FusedDrafting.of(target, proposer, siblingDrafts));
    }

    /** A generator over the target alone (plain batched decoding), for baselines. */
    public SpeculativeGenerator plainGenerator(int eosId) {
        return new SpeculativeGenerator(target, Optional.empty(), "none", context, eosId,
                Map.of("target", target.moeBackend()));
    }

    public ModelRunner target() {
        return target;
    }

    /** The proposer's method, or {@code none}. */
    public String method() {
        return method;
    }

    /** num_speculative_tokens, or 0. */
    public int k() {
        return context == null ? 0 : context.numSpeculativeTokens();
    }

    /** Which MoE backend each role runs: {@code target}, and {@code draft} when speculative. */
    public Map<String, String> backends() {
        return Map.copyOf(backends);
    }

    private static String describe(RoleRuntime draft) {
        return draft.kernels().map(MoeKernels::describe).orElseGet(() ->
                "none (" + (draft.moe() instanceof RoleMoe.NoMoeLayers n ? n.why() : "no MoE layers") + ")");
    }

    /** Where verification's rejection sampler runs: {@code cpu}, {@code gpu}, or {@code auto (…)} (see {@link VerifierPlacement}). */
    public String verifierDevice() {
        return verifier.where();
    }

    @Override
    public void close() {
        try {
            proposer.ifPresent(Proposer::close);
            verifier.close();
        } finally {
            target.close();
        }
    }
}
