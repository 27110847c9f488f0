package dev.moespec.engine.wiring;

import dev.moespec.api.config.ModelRole;
import dev.moespec.api.device.DeviceInfo;
import dev.moespec.moe.KernelContext;
import dev.moespec.moe.MoeKernel;
import dev.moespec.moe.MoeKernelUnavailableException;
import dev.moespec.moe.MoeLayerSpec;
import dev.moespec.moe.Phase;
import dev.moespec.moe.resolve.MoeBinding;

import java.util.EnumMap;
import java.util.Map;

/**
 * One role's MoE kernels, created lazily from that role's binding, one per phase (auto may choose different
 * backends for decode and prefill). Role-private: each role's Guice module owns its own instance, so the target
 * and the draft can never share a kernel or see each other's backend.
 */
public final class MoeKernels implements AutoCloseable {
    private final ModelRole role;
    private final MoeLayerSpec layer;
    private final MoeBinding binding;
    private final DeviceInfo device;
    private final Map<Phase, MoeKernel> kernels = new EnumMap<>(Phase.class);

    public MoeKernels(ModelRole role, MoeLayerSpec layer, MoeBinding binding, DeviceInfo device) {
        this.role = role;
        this.layer = layer;
        this.binding = binding;
        this.device = device;
    }

    public ModelRole role() {
        return role;
    }

    public MoeBinding binding() {
        return binding;
    }

    /**
     * The kernel for a call of {@code tokens} tokens, created on first use by the backend the binding chose for
     * that phase.
     */
    public synchronized MoeKernel kernelFor(int tokens) throws MoeKernelUnavailableException {
        Phase phase = Phase.of(tokens);
        MoeKernel kernel = kernels.get(phase);
        if (kernel == null) {
            kernel = binding.choiceFor(phase).provider().create(layer, new KernelContext(role, device, false));
            kernels.put(phase, kernel);
        }
        return kernel;
    }

    @Override
    public synchronized void close() {
        kernels.values().forEach(MoeKernel::close);
        kernels.clear();
    }
}
