package dev.moespec.engine.wiring;

import dev.moespec.api.config.ModelRole;
import dev.moespec.api.device.DeviceInfo;
import dev.moespec.moe.KernelContext;
import dev.moespec.moe.MoeKernel;
import dev.moespec.moe.MoeKernelUnavailableException;
import dev.moespec.moe.MoeLayerSpec;
import dev.moespec.moe.Phase;
import dev.moespec.moe.resolve.MoeBinding;

import dev.moespec.engine.model.MoeKernelSource;
import dev.moespec.moe.MoeWeights;

import java.util.EnumMap;
import java.util.HashMap;
import java.util.Map;
import java.util.function.Function;

/**
 * One role's MoE kernels, created lazily from that role's binding, one per layer and phase (auto may choose
 * different backends for decode and prefill). Role-private: each role's Guice module owns its own instance, so the
 * target and the draft can never share a kernel or see each other's backend. The role's model runner gets its
 * kernels here ({@link MoeKernelSource}).
 */
public final class MoeKernels implements MoeKernelSource, AutoCloseable {
    private final ModelRole role;
    private final MoeLayerSpec layer;
    private final MoeBinding binding;
    private final DeviceInfo device;
    private final Map<Phase, MoeKernel> kernels = new EnumMap<>(Phase.class);
    private final Map<Integer, Map<Phase, MoeKernel>> layerKernels = new HashMap<>();

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

    /** The layer spec the binding was resolved for. */
    public MoeLayerSpec layer() {
        return layer;
    }

    /**
     * The kernel of MoE layer {@code layerIndex} for a call of {@code tokens} tokens, created by the backend the
     * binding chose for that phase and given its weights on first use.
     */
    @Override
    public synchronized MoeKernel kernel(int layerIndex, int tokens, Function<MoeLayerSpec, MoeWeights> weights)
            throws MoeKernelUnavailableException {
        Phase phase = Phase.of(tokens);
        Map<Phase, MoeKernel> perPhase = layerKernels.computeIfAbsent(layerIndex, i -> new EnumMap<>(Phase.class));
        MoeKernel kernel = perPhase.get(phase);
        if (kernel == null) {
            kernel = binding.choiceFor(phase).provider().create(layer, new KernelContext(role, device, false));
            try {
                kernel.loadWeights(weights.apply(kernel.layer()));
            } catch (RuntimeException e) {
                kernel.close();
                throw e;
            }
            perPhase.put(phase, kernel);
        }
        return kernel;
    }

    /** {@code cpu_reference}, or {@code a (decode), b (prefill)} when the phases differ. */
    @Override
    public String describe() {
        String decode = binding.choiceFor(Phase.DECODE).provider().name();
        String prefill = binding.choiceFor(Phase.PREFILL).provider().name();
        return decode.equals(prefill) ? decode : decode + " (decode), " + prefill + " (prefill)";
    }

    /**
     * A weightless kernel for a call of {@code tokens} tokens, created on first use by the backend the binding chose
     * for that phase (to inspect which backend runs a phase; the model runner uses {@link #kernel}).
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
        layerKernels.values().forEach(m -> m.values().forEach(MoeKernel::close));
        layerKernels.clear();
    }
}
