package dev.moespec.engine.bench;

import dev.moespec.api.tensor.DType;
import dev.moespec.api.tensor.HostTensors;

import java.lang.foreign.Arena;
import java.util.BitSet;
import java.util.HashMap;
import java.util.Map;

/**
 * One shape's inputs for every M: hidden states N(0,1) rounded to bf16 and router logits N(0,1), {@code maxTokens}
 * rows each; a row of M uses the first M. The same for every dtype of the shape, so bf16 and fp8 rows route alike.
 * Host and device copies are made on first use and freed by {@link #close()}.
 */
final class ShapeInputs implements AutoCloseable {
    private final BenchShape shape;
    private final int maxTokens;
    private final float[] hidden;
    private final float[] logits;
    private final Map<Integer, BitSet> hits = new HashMap<>();
    private Arena hostArena;
    private MoeBench.HostInputs host;
    private DeviceRig.DeviceInputs device;

    ShapeInputs(BenchShape shape, int maxTokens, long seed) {
        this.shape = shape;
        this.maxTokens = maxTokens;
        long base = seed * 31 + shape.name().hashCode();
        this.hidden = RandomMoeWeights.gaussian(base + 1, maxTokens, shape.hiddenSize());
        for (int k = 0; k < hidden.length; k++) hidden[k] = HostTensors.roundTo(DType.BF16, hidden[k]);
        this.logits = RandomMoeWeights.gaussian(base + 2, maxTokens, shape.numExperts());
    }

    BenchShape shape() {
        return shape;
    }

    int maxTokens() {
        return maxTokens;
    }

    /** bf16-exact hidden states {@code [maxTokens, H]}. */
    float[] hidden() {
        return hidden;
    }

    /** Router logits {@code [maxTokens, E]}. */
    float[] logits() {
        return logits;
    }

    /** The experts the first {@code m} tokens route to. */
    BitSet expertsHit(int m) {
        return hits.computeIfAbsent(m, t -> HostRouting.expertsHit(logits, t, shape.numExperts(), shape.topK()));
    }

    MoeBench.HostInputs host() {
        if (host == null) {
            hostArena = Arena.ofShared();
            host = MoeBench.HostInputs.of(hostArena, shape, hidden, logits, maxTokens);
        }
        return host;
    }

    DeviceRig.DeviceInputs device(DeviceRig rig) {
        if (device == null) device = rig.upload(host());
        return device;
    }

    @Override
    public void close() {
        if (device != null) device.close();
        if (hostArena != null) hostArena.close();
    }
}
