package dev.moespec.backend.triton;

import dev.moespec.cuda.CudaContext;
import dev.moespec.cuda.DeviceBuffer;
import dev.moespec.moe.MoeLayerSpec;

import java.util.ArrayList;
import java.util.List;

/**
 * Every device buffer a forward call uses, allocated once from {@link MoeLayerSpec#maxTokens()} so that a call
 * allocates nothing (and can be captured in a CUDA graph). A = maxTokens x top-k assignments.
 */
final class TritonWorkspace implements AutoCloseable {
    /** Rows per tile of the grouped GEMMs; moe_align pads every expert to a multiple of it. */
    static final int BLOCK_M = 64;
    /** moe_amax_partial's grid, which moe_quant_tensor_e4m3 reduces. */
    static final int AMAX_PARTIALS = 1024;

    final DeviceBuffer topkIds, topkWeights, counts, paddedOffsets, sortedRows, blockExpert, activeExperts, meta;
    final DeviceBuffer xq, xScale, amaxPartial, inter, interQ, interScale, interAmax, partial;
    private final List<DeviceBuffer> all = new ArrayList<>();

    TritonWorkspace(CudaContext ctx, MoeLayerSpec layer, TritonNumerics numerics) {
        long m = layer.maxTokens(), a = m * layer.topK();
        int e = layer.numExperts(), h = layer.hiddenSize(), i = layer.intermediateSize();
        try {
            topkIds = alloc(ctx, 4 * a);
            topkWeights = alloc(ctx, 4 * a);
            counts = alloc(ctx, 4L * e);
            paddedOffsets = alloc(ctx, 4L * (e + 1));
            sortedRows = alloc(ctx, 4 * (a + Math.min(e, a) * (BLOCK_M - 1)));
            // the skinny path's smallest token tile gives the most tiles
            blockExpert = alloc(ctx, 4 * Math.max(mTilesBound(layer, a), mTilesBound(layer, a, SkinnyPlan.TOKEN_TILES[0])));
            activeExperts = alloc(ctx, 4L * e);
            meta = alloc(ctx, 16);
            boolean quantised = numerics.activation() != TritonNumerics.ActivationQuant.NONE;
            int groupsH = (h + 127) / 128, groupsI = (i + 127) / 128;
            long gemmBytes = numerics.gemmType().byteSize();
            xq = quantised ? alloc(ctx, m * numerics.padK(h) * gemmBytes) : null;
            xScale = quantised ? alloc(ctx, 4 * m * groupsH) : null;
            amaxPartial = quantised ? alloc(ctx, 4L * AMAX_PARTIALS) : null;
            // FP8 layers keep the SwiGLU output in fp32 until its dynamic scale is known
            inter = alloc(ctx, a * i * (quantised ? 4 : gemmBytes));
            interQ = quantised ? alloc(ctx, a * numerics.padK(i) * gemmBytes) : null;
            interScale = quantised ? alloc(ctx, 4 * a * groupsI) : null;
            interAmax = quantised ? alloc(ctx, 4 * a) : null;
            partial = alloc(ctx, 4 * a * h);
        } catch (RuntimeException ex) {
            close();
            throw ex;
        }
    }

    /** An upper bound on the number of BLOCK_M-row tiles after alignment of {@code a} assignments. */
    static long mTilesBound(MoeLayerSpec layer, long a) {
        return mTilesBound(layer, a, BLOCK_M);
    }

    /** An upper bound on the number of {@code block}-row tiles after alignment of {@code a} assignments. */
    static long mTilesBound(MoeLayerSpec layer, long a, int block) {
        return a / block + Math.min(layer.numExperts(), a);
    }

    private DeviceBuffer alloc(CudaContext ctx, long bytes) {
        DeviceBuffer b = DeviceBuffer.alloc(ctx, Math.max(bytes, 16));
        all.add(b);
        return b;
    }

    @Override
    public void close() {
        for (int n = all.size() - 1; n >= 0; n--) all.get(n).close();
        all.clear();
    }
}
