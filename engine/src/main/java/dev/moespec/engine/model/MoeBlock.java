package dev.moespec.engine.model;

import dev.moespec.api.tensor.DType;
import dev.moespec.api.tensor.HostTensors;
import dev.moespec.api.tensor.Tensor;
import dev.moespec.engine.loader.Checkpoint;
import dev.moespec.engine.loader.MoeDecoderLayout;
import dev.moespec.moe.MoeKernel;
import dev.moespec.moe.MoeKernelUnavailableException;
import dev.moespec.moe.MoeLayerSpec;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * The MoE feed-forward of one layer: router logits {@code b·Wgateᵀ}, then the role's {@link MoeKernel} (from its
 * {@link MoeKernelSource}: the binding the role resolved) in slices of at most {@code maxTokens} rows. The layer's
 * expert weights are stacked from the checkpoint on the kernel's first use, in the form its spec asks for.
 */
public final class MoeBlock implements DecoderLayer.Mlp {
    private static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private final Checkpoint checkpoint;
    private final MoeDecoderLayout.Naming naming;
    private final int layer;
    private final int kernelIndex;
    private final MoeLayerSpec spec;
    private final MoeKernelSource source;
    private final Arena weightsArena;
    private final Linear router;
    private float[] lastRouterLogits = new float[0];

    /**
     * @param layer       the layer index in the checkpoint's tensor names
     * @param kernelIndex the index the kernel source caches this layer's kernel under
     */
    public MoeBlock(Checkpoint checkpoint, MoeDecoderLayout.Naming naming, int layer, int kernelIndex,
                    MoeLayerSpec spec, MoeKernelSource source, Arena weightsArena) {
        this.checkpoint = checkpoint;
        this.naming = naming;
        this.layer = layer;
        this.kernelIndex = kernelIndex;
        this.spec = spec;
        this.source = source;
        this.weightsArena = weightsArena;
        this.router = new Linear(HostWeights.matrix(checkpoint, naming.router(layer)), spec.numExperts(), spec.hiddenSize());
    }

    /** Router logits of the last call (for bisecting against golden debug values). */
    float[] lastRouterLogits() {
        return lastRouterLogits;
    }

    /**
     * How close the last call's last row came to a routing tie: its k-th largest router logit minus its (k+1)-th
     * (infinite when every expert is picked, NaN before any call). Below the rounding noise of another implementation's
     * router logits, the two may pick different experts for that row.
     */
    public float lastRoutingGap() {
        int e = spec.numExperts(), k = spec.topK();
        if (lastRouterLogits.length < e) return Float.NaN;
        if (k >= e) return Float.POSITIVE_INFINITY;
        float[] row = java.util.Arrays.copyOfRange(lastRouterLogits, lastRouterLogits.length - e, lastRouterLogits.length);
        java.util.Arrays.sort(row);
        return row[e - k] - row[e - k - 1];
    }

    @Override
    public float[] apply(float[] b, int m) {
        int h = spec.hiddenSize(), e = spec.numExperts();
        float[] logits = router.apply(b, m);
        lastRouterLogits = logits;
        float[] out = new float[m * h];
        for (int from = 0; from < m; from += spec.maxTokens()) {
            int rows = Math.min(spec.maxTokens(), m - from);
            MoeKernel kernel;
            try {
                kernel = source.kernel(kernelIndex, rows,
                        s -> MoeWeightsFactory.build(checkpoint, naming, layer, s, weightsArena));
            } catch (MoeKernelUnavailableException ex) {
                throw new IllegalStateException("MoE layer " + layer + ": " + ex.getMessage(), ex);
            }
            try (Arena arena = Arena.ofConfined()) {
                Tensor hidden = floats(arena, b, from * h, rows, h);
                Tensor r = floats(arena, logits, from * e, rows, e);
                Tensor result = HostTensors.allocate(arena, DType.F32, rows, h);
                kernel.forward(hidden, r, result, 0L);
                MemorySegment.copy(result.data(), F32, 0, out, from * h, rows * h);
            }
        }
        return out;
    }

    private static Tensor floats(Arena arena, float[] src, int offset, int rows, int cols) {
        Tensor t = HostTensors.allocate(arena, DType.F32, rows, cols);
        MemorySegment.copy(src, offset, t.data(), F32, 0, rows * cols);
        return t;
    }
}
