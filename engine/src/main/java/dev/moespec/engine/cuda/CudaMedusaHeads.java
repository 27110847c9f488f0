package dev.moespec.engine.cuda;

import dev.moespec.api.proposer.DraftHeads;
import dev.moespec.cuda.CudaContext;
import dev.moespec.cuda.CudaGraph;
import dev.moespec.cuda.CudaStream;
import dev.moespec.cuda.DeviceBuffer;
import dev.moespec.cuda.LaunchLedger;
import dev.moespec.cuda.PinnedHostMemory;
import dev.moespec.engine.loader.Checkpoint;
import dev.moespec.engine.loader.CheckpointException;
import dev.moespec.engine.model.HostWeights;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * Medusa heads (FORMAT.md §5.3) on the GPU, the CUDA twin of the CPU {@code MedusaHeadsNetwork}, as two kernels
 * ({@code head_linear.cu}): {@code hn = rms(h)·model.norm} and every head's ResBlock
 * {@code r_i = hn + silu(hn·W_iᵀ + b_i)} at once over the stacked {@code [heads·H, H]} weights; then every head's
 * lm_head (one launch, a table of the heads' weight addresses: a real model's heads are too large to stack in one Java
 * array). All fp32, like the CPU heads, so only summation order differs. The fixed-shape launch sequence, with the
 * feature's upload and the logits' read-back, is replayed as one CUDA graph after the first call; launches count under
 * {@link LaunchLedger#scope}{@code ("draft")}. Not thread-safe.
 */
public final class CudaMedusaHeads implements DraftHeads {
    private final int n, h, vocab;
    private final float eps;
    private final CudaContext ctx;
    private final CudaStream stream;
    private final DecoderKernels k;
    private final DeviceArrays w;
    private final long finalNorm, blocks, bias, lmHeads, r;
    private final DeviceBuffer feature, logits;
    private final PinnedHostMemory pinned;
    private final MemorySegment hostFeature, hostLogits;
    private CudaGraph graph;
    private boolean graphFailed;

    /** Uploads the heads of {@code heads} with the final norm of {@code target}; both are read here only. */
    public CudaMedusaHeads(Checkpoint heads, Checkpoint target, int ordinal) {
        h = target.config().hiddenSize();
        vocab = target.config().vocabSize();
        eps = (float) target.config().rmsNormEps();
        int count = 0;
        while (heads.has("lm_heads." + count + ".weight")) count++;
        if (count == 0) {
            throw new CheckpointException(heads.config().path(), "lm_heads.0.weight", "a Medusa checkpoint needs heads"
                    + " lm_heads.{i}.weight and blocks.{i}.layers.0.{weight,bias}; pass the Medusa checkpoint as \"model\"");
        }
        n = count;
        if (h % 4 != 0 || h > DecoderKernels.MEDUSA_MAX_HIDDEN) {
            throw new IllegalArgumentException("the CUDA Medusa heads take a hidden size that is a multiple of 4 and at most "
                    + DecoderKernels.MEDUSA_MAX_HIDDEN + "; " + heads.config().configFile() + " has " + h
                    + "; run with --device cpu");
        }
        ctx = CudaContext.open(ordinal);
        CudaStream s = null;
        DeviceArrays dw = null;
        DeviceBuffer f = null, l = null;
        try {
            s = CudaStream.create(ctx);
            k = DecoderKernels.load(ctx);
            dw = new DeviceArrays(ctx);
            finalNorm = dw.f32(HostWeights.vector(target, "model.norm.weight"));
            float[] stacked = new float[n * h * h], biases = new float[n * h];
            long[] lmHeadAddresses = new long[n];
            for (int i = 0; i < n; i++) {
                System.arraycopy(HostWeights.matrix(heads, "blocks." + i + ".layers.0.weight"), 0, stacked, i * h * h, h * h);
                System.arraycopy(HostWeights.vector(heads, "blocks." + i + ".layers.0.bias"), 0, biases, i * h, h);
                lmHeadAddresses[i] = dw.f32(HostWeights.matrix(heads, "lm_heads." + i + ".weight"));
            }
            blocks = dw.f32(stacked);
            bias = dw.f32(biases);
            lmHeads = dw.i64(lmHeadAddresses);
            r = dw.zeros(4L * n * h);
            f = DeviceBuffer.alloc(ctx, 4L * h);
            l = DeviceBuffer.alloc(ctx, 4L * n * vocab);
            pinned = PinnedHostMemory.alloc(ctx, 4L * h + 4L * n * vocab + 256);
        } catch (RuntimeException e) {
            if (l != null) l.close();
            if (f != null) f.close();
            if (dw != null) dw.close();
            ctx.close();
            throw e;
        }
        stream = s;
        w = dw;
        feature = f;
        logits = l;
        hostFeature = pinned.segment().asSlice(0, 4L * h);
        hostLogits = pinned.segment().asSlice(256 * ((4L * h + 255) / 256), 4L * n * vocab);
    }

    @Override
    public int numHeads() {
        return n;
    }

    @Override
    public float[][] logits(float[] feature) {
        if (feature.length != h) {
            throw new IllegalArgumentException("Medusa heads take a feature of width " + h + ", got " + feature.length);
        }
        try (LaunchLedger.Scope scope = LaunchLedger.scope(CudaFeatureHead.ROLE)) {
            MemorySegment.copy(feature, 0, hostFeature, ValueLayout.JAVA_FLOAT, 0, h);
            if (graph != null) {
                graph.launch(stream);
            } else {
                forward();
                if (!graphFailed) {
                    try {
                        graph = CudaGraph.capture(stream, this::forward);
                    } catch (RuntimeException e) {
                        graphFailed = true;
                        System.err.println("moespec: CUDA graph capture of the Medusa heads failed, running them without"
                                + " graphs: " + e.getMessage());
                    }
                }
            }
            stream.synchronize();
        }
        float[][] out = new float[n][vocab];
        for (int i = 0; i < n; i++) MemorySegment.copy(hostLogits, ValueLayout.JAVA_FLOAT, 4L * i * vocab, out[i], 0, vocab);
        return out;
    }

    /** The feature in, both kernels, the logits out: fixed shapes and pinned buffers, so one graph replays it all. */
    private void forward() {
        long s = stream.handle();
        feature.copyFromAsync(hostFeature, stream);
        k.medusaBlocks(s, feature.address(), finalNorm, eps, h, n, blocks, bias, r);
        k.medusaLogits(s, r, h, n, lmHeads, vocab, logits.address());
        logits.copyToAsync(hostLogits, stream);
    }

    @Override
    public void close() {
        if (ctx.isClosed()) return;
        try {
            stream.synchronize();
        } finally {
            if (graph != null) graph.close();
            pinned.close();
            feature.close();
            logits.close();
            w.close();
            ctx.close();
        }
    }
}
