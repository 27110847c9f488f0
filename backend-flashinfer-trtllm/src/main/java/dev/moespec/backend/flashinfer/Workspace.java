package dev.moespec.backend.flashinfer;

import dev.moespec.api.config.QuantScheme;
import dev.moespec.cuda.CudaContext;
import dev.moespec.cuda.DeviceBuffer;
import dev.moespec.moe.MoeLayerSpec;
import dev.moespec.moe.Routing;

import java.util.ArrayList;
import java.util.List;

/**
 * Every device buffer a forward call uses, allocated once from {@link MoeLayerSpec#maxTokens()} so that
 * {@code forward} allocates nothing. Sizes: {@code cap} padded rows ({@link LaunchPlan#rowCapacity}).
 */
final class Workspace implements AutoCloseable {
    /** Blocks of the per-tensor hidden amax reduction (two waves of a 132-SM GPU). */
    static final int AMAX_BLOCKS = 264;

    final DeviceBuffer topkIds;      // int   [maxTokens * k]
    final DeviceBuffer topkWeights;  // float [maxTokens * k]
    final DeviceBuffer sortedRows;   // int   [cap]
    final DeviceBuffer blockExpert;  // int   [cap / 16]
    final DeviceBuffer meta;         // int   [2]: blocks, padded rows
    final DeviceBuffer hiddenQ;      // e4m3  [maxTokens, H]
    final DeviceBuffer hiddenScale;  // float block: [maxTokens, H/128]; per-tensor: [2] (hidden, intermediate)
    final DeviceBuffer inter;        // block: e4m3 [cap, I]; per-tensor: float [cap, I]
    final DeviceBuffer interQ;       // per-tensor: e4m3 [cap, I]; block: same buffer as inter
    final DeviceBuffer interScale;   // block: float [cap, ceil(I/128)]; per-tensor: GEMM 1 amax partials
    final DeviceBuffer amaxPartial;  // per-tensor: float [AMAX_BLOCKS]
    final DeviceBuffer partial;      // fp32  [partialRows, H]: GEMM 2's rows per (split, entry), summed by fi_finalize_out
    final long partialRows;
    final DeviceBuffer bias;         // float [E] (sigmoid routing's correction bias; zeros otherwise)
    private final List<DeviceBuffer> owned = new ArrayList<>();

    /**
     * @param partialRows rows of GEMM 2's partial workspace ({@link LaunchPlan#partialRows}): the most
     *                    {@code splits x M x k} any call can produce
     */
    Workspace(CudaContext ctx, MoeLayerSpec layer, long partialRows) {
        long mk = (long) layer.maxTokens() * layer.topK();
        long cap = LaunchPlan.rowCapacity(layer);
        int h = layer.hiddenSize(), i = layer.intermediateSize(), iGroups = LaunchPlan.ceilDiv(i, 128);
        boolean block = layer.quant() == QuantScheme.FP8_BLOCK_128;
        try {
            topkIds = alloc(ctx, 4 * mk);
            topkWeights = alloc(ctx, 4 * mk);
            sortedRows = alloc(ctx, 4 * cap);
            blockExpert = alloc(ctx, 4L * LaunchPlan.blockCapacity(layer));
            meta = alloc(ctx, 16);
            hiddenQ = alloc(ctx, (long) layer.maxTokens() * h);
            hiddenScale = alloc(ctx, block ? 4L * layer.maxTokens() * (h / 128) : 8);
            inter = alloc(ctx, cap * i * (block ? 1 : 4));
            interQ = block ? inter : alloc(ctx, cap * i);
            interScale = alloc(ctx, 4L * (block ? cap * iGroups : (long) LaunchPlan.blockCapacity(layer) * iGroups));
            amaxPartial = alloc(ctx, 4L * AMAX_BLOCKS);
            this.partialRows = partialRows;
            partial = alloc(ctx, 4L * Math.max(partialRows, 1) * h);
            bias = alloc(ctx, 4L * layer.numExperts());
            uploadBias(ctx, layer);
        } catch (RuntimeException e) {
            close();
            throw e;
        }
    }

    private void uploadBias(CudaContext ctx, MoeLayerSpec layer) {
        float[] b = layer.routing() instanceof Routing.SigmoidGroupedTopK g ? g.correctionBias() : new float[layer.numExperts()];
        bias.copyFrom(java.lang.foreign.MemorySegment.ofArray(b));
    }

    private DeviceBuffer alloc(CudaContext ctx, long bytes) {
        DeviceBuffer b = DeviceBuffer.alloc(ctx, bytes);
        owned.add(b);
        return b;
    }

    @Override
    public void close() {
        for (DeviceBuffer b : owned.reversed()) b.close();
        owned.clear();
    }
}
