package dev.moespec.engine.wiring;

import com.google.inject.Guice;
import com.google.inject.Injector;
import com.google.inject.Stage;
import dev.moespec.api.config.EngineConfig;
import dev.moespec.api.config.ModelRole;
import dev.moespec.api.device.DeviceInfo;
import dev.moespec.api.proposer.ProposerRegistry;
import dev.moespec.moe.registry.MoeBackendRegistry;

import java.util.Optional;

/**
 * A built engine: the role runtimes of one {@link EngineConfig} on one device. Building resolves every role's
 * MoE binding eagerly, so a pinned backend that cannot run its layers fails here, before any weight is loaded.
 */
public final class Engine implements AutoCloseable {
    private final Injector injector;
    private final boolean speculative;

    private Engine(Injector injector, boolean speculative) {
        this.injector = injector;
        this.speculative = speculative;
    }

    /** Builds with the plugins visible to {@code loader}. */
    public static Engine build(EngineConfig target, DeviceInfo device, ClassLoader loader) {
        return build(target, device, MoeBackendRegistry.load(loader), ProposerRegistry.load(loader));
    }

    public static Engine build(EngineConfig target, DeviceInfo device, MoeBackendRegistry backends,
                               ProposerRegistry proposers) {
        Injector injector;
        try {
            injector = Guice.createInjector(Stage.PRODUCTION, new EngineModule(target, device, backends, proposers));
        } catch (com.google.inject.CreationException | com.google.inject.ProvisionException e) {
            throw unwrap(e);
        }
        return new Engine(injector, target.speculative().isPresent());
    }

    public RoleRuntime target() {
        return injector.getInstance(RoleModule.key(ModelRole.TARGET));
    }

    public Optional<RoleRuntime> draft() {
        return speculative ? Optional.of(injector.getInstance(RoleModule.key(ModelRole.DRAFT))) : Optional.empty();
    }

    public MoeBackendRegistry backends() {
        return injector.getInstance(MoeBackendRegistry.class);
    }

    public ProposerRegistry proposers() {
        return injector.getInstance(ProposerRegistry.class);
    }

    public DeviceInfo device() {
        return injector.getInstance(DeviceInfo.class);
    }

    @Override
    public void close() {
        target().kernels().ifPresent(MoeKernels::close);
        draft().flatMap(RoleRuntime::kernels).ifPresent(MoeKernels::close);
    }

    /** Guice wraps what our providers throw; callers want the typed, user-facing error itself. */
    private static RuntimeException unwrap(RuntimeException e) {
        var messages = e instanceof com.google.inject.CreationException c ? c.getErrorMessages()
                : ((com.google.inject.ProvisionException) e).getErrorMessages();
        for (var message : messages) {
            for (Throwable t = message.getCause(); t != null; t = t.getCause()) {
                if (t instanceof RuntimeException r && r.getClass().getPackageName().startsWith("dev.moespec")) {
                    return r;
                }
            }
        }
        return e;
    }
}
