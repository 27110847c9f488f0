package dev.moespec.engine.wiring;

import com.google.inject.PrivateModule;
import com.google.inject.Provides;
import com.google.inject.Singleton;
import com.google.inject.name.Names;
import dev.moespec.api.config.EngineConfig;
import dev.moespec.api.config.ModelRole;
import dev.moespec.api.device.DeviceInfo;
import dev.moespec.moe.MoeLayerSpec;
import dev.moespec.moe.resolve.MoeBackendResolver;
import dev.moespec.moe.resolve.MoeBinding;

import java.util.Objects;
import java.util.Optional;

/**
 * One role's object graph. Target and draft are the same graph with different inputs; everything bound here is
 * private to the role, and only {@link RoleRuntime} is exposed, under {@code @Named("target")} or
 * {@code @Named("draft")}. There is no "current backend" anywhere: each role resolves its own binding.
 */
final class RoleModule extends PrivateModule {
    private final ModelRole role;
    private final EngineConfig config;
    private final Optional<MoeLayerSpec> layer;
    private final String noMoeReason;
    private final Resolution resolution;

    /** How this role's binding is resolved: pinned/auto for the target, override/inherit for the draft. */
    @FunctionalInterface
    interface Resolution {
        MoeBinding resolve(MoeBackendResolver resolver, MoeLayerSpec layer, DeviceInfo device);
    }

    RoleModule(ModelRole role, EngineConfig config, Optional<MoeLayerSpec> layer, String noMoeReason,
               Resolution resolution) {
        this.role = Objects.requireNonNull(role, "role");
        this.config = Objects.requireNonNull(config, "config");
        this.layer = Objects.requireNonNull(layer, "layer");
        this.noMoeReason = noMoeReason;
        this.resolution = Objects.requireNonNull(resolution, "resolution");
    }

    static com.google.inject.Key<RoleRuntime> key(ModelRole role) {
        return com.google.inject.Key.get(RoleRuntime.class, Names.named(role.label()));
    }

    @Override
    protected void configure() {
        bind(EngineConfig.class).toInstance(config);
        bind(ModelRole.class).toInstance(role);
        bind(key(role)).to(RoleRuntime.class);
        expose(key(role));
    }

    @Provides
    @Singleton
    RoleMoe moe(MoeBackendResolver resolver, DeviceInfo device) {
        return layer.<RoleMoe>map(l -> new RoleMoe.Bound(l, resolution.resolve(resolver, l, device)))
                .orElseGet(() -> new RoleMoe.NoMoeLayers(noMoeReason));
    }

    @Provides
    @Singleton
    Optional<MoeKernels> kernels(RoleMoe moe, DeviceInfo device) {
        return moe instanceof RoleMoe.Bound bound
                ? Optional.of(new MoeKernels(role, bound.layer(), bound.binding(), device))
                : Optional.empty();
    }

    @Provides
    @Singleton
    RoleRuntime runtime(EngineConfig roleConfig, RoleMoe moe, Optional<MoeKernels> kernels) {
        return new RoleRuntime(role, roleConfig, moe, kernels);
    }
}
