package dev.moespec.engine.bench;

import dev.moespec.api.device.DeviceInfo;
import dev.moespec.moe.Eligibility;
import dev.moespec.moe.KernelContext;
import dev.moespec.moe.MoeBackendProvider;
import dev.moespec.moe.MoeKernel;
import dev.moespec.moe.MoeKernelUnavailableException;
import dev.moespec.moe.MoeLayerSpec;
import dev.moespec.moe.MoeWeights;

import java.lang.foreign.Arena;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.Consumer;

/**
 * The kernels of one shape × dtype, one per backend that a row asks for (one for a pinned backend; {@code auto}
 * may pick a second for prefill rows), each created and given the weights once. The random weights are drawn
 * when the first kernel needs them and kept for the error column; {@link #close()} frees kernels and weights.
 */
final class KernelGroup implements AutoCloseable {

    /** A backend's kernel for this group, or why it could not be made. */
    sealed interface Slot permits Slot.Ready, Slot.Refused {
        /** @param onHost the kernel takes host tensors (its backend is eligible on a CPU device) */
        record Ready(MoeKernel kernel, boolean onHost) implements Slot {}

        record Refused(Eligibility.Rejected rejection) implements Slot {}
    }

    private static final DeviceInfo CPU_PROBE = DeviceInfo.cpu("placement probe: does the backend compute on the host?");

    private final BenchShape shape;
    private final BenchDtype dtype;
    private final MoeLayerSpec layer;
    private final long seed;
    private final Consumer<String> progress;
    private final Map<String, Slot> slots = new LinkedHashMap<>();
    private Arena weightsArena;
    private MoeWeights weights;

    KernelGroup(BenchShape shape, BenchDtype dtype, MoeLayerSpec layer, long seed, Consumer<String> progress) {
        this.shape = shape;
        this.dtype = dtype;
        this.layer = layer;
        this.seed = seed;
        this.progress = progress;
    }

    BenchShape shape() {
        return shape;
    }

    BenchDtype dtype() {
        return dtype;
    }

    MoeLayerSpec layer() {
        return layer;
    }

    /** The host weights every kernel of this group was given (drawn on first use). */
    MoeWeights weights() {
        if (weights == null) {
            long elements = 3L * shape.numExperts() * shape.hiddenSize() * shape.intermediateSize();
            progress.accept("  drawing %s %s weights (%,d per matrix stack, seed %d)".formatted(shape.name(), dtype.label(),
                    elements, seed));
            weightsArena = Arena.ofShared();
            weights = RandomMoeWeights.generate(weightsArena, shape, dtype, seed * 7919 + shape.name().hashCode() * 31L + dtype.ordinal());
        }
        return weights;
    }

    /** {@code provider}'s kernel, created and loaded on first use; a refusal is remembered for the group's other rows. */
    Slot slot(MoeBackendProvider provider, KernelContext context) {
        return slots.computeIfAbsent(provider.name(), name -> {
            MoeKernel kernel;
            try {
                kernel = provider.create(layer, context);
            } catch (MoeKernelUnavailableException e) {
                return new Slot.Refused(e.rejection());
            }
            try {
                kernel.loadWeights(weights());
            } catch (RuntimeException e) {
                kernel.close();
                throw e;
            }
            return new Slot.Ready(kernel, provider.check(layer, CPU_PROBE).isEligible());
        });
    }

    @Override
    public void close() {
        for (Slot s : slots.values()) {
            if (s instanceof Slot.Ready r) r.kernel().close();
        }
        slots.clear();
        weights = null;
        if (weightsArena != null) weightsArena.close();
    }
}
