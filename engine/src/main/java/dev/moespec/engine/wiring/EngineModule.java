package dev.moespec.engine.wiring;

import com.google.inject.AbstractModule;
import dev.moespec.api.config.DraftConfigStrategy;
import dev.moespec.api.config.EngineConfig;
import dev.moespec.api.config.ModelRole;
import dev.moespec.api.config.SpeculativeConfig;
import dev.moespec.api.device.DeviceInfo;
import dev.moespec.api.proposer.ProposerProvider;
import dev.moespec.api.proposer.ProposerRegistry;
import dev.moespec.engine.moe.MoeLayerSpecs;
import dev.moespec.moe.MoeLayerSpec;
import dev.moespec.moe.registry.MoeBackendRegistry;
import dev.moespec.moe.resolve.MoeBackendResolver;

import java.util.Optional;

/**
 * The composition root: shared, immutable services (device, registries, resolver) plus one {@link RoleModule}
 * per role. The draft's config comes from the spec-decode config builder its proposer chose
 * ({@link ProposerProvider#draftConfigStrategy()}); its MoE layers are those of the checkpoint that holds the
 * drafter, with that checkpoint's own quantization.
 */
public final class EngineModule extends AbstractModule {
    private final EngineConfig target;
    private final DeviceInfo device;
    private final MoeBackendRegistry backends;
    private final ProposerRegistry proposers;

    public EngineModule(EngineConfig target, DeviceInfo device, MoeBackendRegistry backends, ProposerRegistry proposers) {
        this.target = target;
        this.device = device;
        this.backends = backends;
        this.proposers = proposers;
    }

    @Override
    protected void configure() {
        bind(DeviceInfo.class).toInstance(device);
        bind(MoeBackendRegistry.class).toInstance(backends);
        bind(ProposerRegistry.class).toInstance(proposers);
        bind(MoeBackendResolver.class).toInstance(new MoeBackendResolver(backends));

        String targetBackend = target.kernel().moeBackend();
        install(new RoleModule(ModelRole.TARGET, target, layerOf(target), "the target model has no MoE layers",
                (resolver, layer, dev) -> resolver.resolveTarget(targetBackend, layer, dev)));

        target.speculative().ifPresent(spec -> {
            EngineConfig draft = draftConfigStrategy(spec).apply(target);
            String draftBackend = spec.moeBackend().orElse(null);
            install(new RoleModule(ModelRole.DRAFT, draft, drafterLayer(spec), noDrafterMoe(spec),
                    (resolver, layer, dev) -> resolver.resolveDraft(draftBackend, targetBackend, layer, dev)));
        });
    }

    /** The registered proposer's choice of builder; for a method with no proposer jar yet, vLLM's default. */
    DraftConfigStrategy draftConfigStrategy(SpeculativeConfig spec) {
        return proposers.find(spec.method()).map(ProposerProvider::draftConfigStrategy)
                .orElse(DraftConfigStrategy.defaultFor(spec.method()));
    }

    private static Optional<MoeLayerSpec> layerOf(EngineConfig config) {
        return MoeLayerSpecs.of(config.model(), config.quant(), MoeLayerSpecs.DEFAULT_MAX_TOKENS);
    }

    private static Optional<MoeLayerSpec> drafterLayer(SpeculativeConfig spec) {
        return spec.draftModelConfig()
                .flatMap(m -> MoeLayerSpecs.of(m, spec.draftQuant(), MoeLayerSpecs.DEFAULT_MAX_TOKENS));
    }

    private static String noDrafterMoe(SpeculativeConfig spec) {
        return spec.draftModelConfig()
                .map(m -> "the " + spec.method() + " drafter (" + m.name() + ") has no MoE layers")
                .orElse("the " + spec.method() + " drafter has no network, so no MoE layers");
    }
}
