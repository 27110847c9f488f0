package dev.moespec.engine.cuda;

import dev.moespec.api.proposer.DraftHeads;
import dev.moespec.cuda.Cublas;
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
 * Medusa heads (FORMAT.md §5.3) on the GPU, the CUDA twin of the CPU {@code MedusaHeadsNetwork}:
 * {@code hn = rms(h)·model.norm} (our kernel), every head's ResBlock GEMM at once over the stacked
 * {@code [heads·H, H]} weights (cuBLAS), {@code r_i = hn + silu(t_i + b_i)} (our kernel), and one lm_head GEMM per
 * head. All fp32, like the CPU heads, so only summation order differs. The fixed-shape launch sequence is replayed
 * as one CUDA graph after the first call; launches count under {@link LaunchLedger#scope}{@code ("draft")}.
 * Not thread-safe.
 */
public final class CudaMedusaHeads implements DraftHeads {
    private final int n, h, vocab;
    private final float eps;
    private final CudaContext ctx;
    private final CudaStream stream;
    private final Cublas blas;
    private final DecoderKernels k;
    private final DeviceArrays w;
    private final long finalNorm, blocks, bias, hn, t, r;
    private final long[] lmHeads;
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
        ctx = CudaContext.open(ordinal);
        CudaStream s = null;
        Cublas b = null;
        DeviceArrays dw = null;
        DeviceBuffer f = null, l = null;
        try {
            s = CudaStream.create(ctx);
            b = Cublas.create(ctx, s);
            k = DecoderKernels.load(ctx);
            dw = new DeviceArrays(ctx);
            finalNorm = dw.f32(HostWeights.vector(target, "model.norm.weight"));
            float[] stacked = new float[n * h * h], biases = new float[n * h];
            lmHeads = new long[n];
            for (int i = 0; i < n; i++) {
                System.arraycopy(HostWeights.matrix(heads, "blocks." + i + ".layers.0.weight"), 0, stacked, i * h * h, h * h);
                System.arraycopy(HostWeights.vector(heads, "blocks." + i + ".layers.0.bias"), 0, biases, i * h, h);
                lmHeads[i] = dw.f32(HostWeights.matrix(heads, "lm_heads." + i + ".weight"));
            }
            blocks = dw.f32(stacked);
            bias = dw.f32(biases);
            hn = dw.zeros(4L * h);
            t = dw.zeros(4L * n * h);
            r = dw.zeros(4L * n * h);
            f = DeviceBuffer.alloc(ctx, 4L * h);
            l = DeviceBuffer.alloc(ctx, 4L * n * vocab);
            pinned = PinnedHostMemory.alloc(ctx, 4L * h + 4L * n * vocab + 256);
        } catch (RuntimeException e) {
            if (l != null) l.close();
            if (f != null) f.close();
            if (dw != null) dw.close();
            if (b != null) b.close();
            ctx.close();
            throw e;
        }
        stream = s;
        blas = b;
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
            this.feature.copyFromAsync(hostFeature, stream);
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
            logits.copyToAsync(hostLogits, stream);
            stream.synchronize();
        }
        float[][] out = new float[n][vocab];
        for (int i = 0; i < n; i++) MemorySegment.copy(hostLogits, ValueLayout.JAVA_FLOAT, 4L * i * vocab, out[i], 0, vocab);
        return out;
    }

    private void forward() {
        long s = stream.handle();
        k.rmsnorm(s, 1, feature.address(), 0, 0, finalNorm, eps, h, 0, hn);
        blas.gemm(hn, Cublas.Type.F32, blocks, Cublas.Type.F32, t, Cublas.Type.F32, 1, n * h, h, false);
        k.biasSiluResidual(s, n, t, bias, hn, h, r);
        for (int i = 0; i < n; i++) {
            blas.gemm(r + 4L * i * h, Cublas.Type.F32, lmHeads[i], Cublas.Type.F32, logits.address() + 4L * i * vocab,
                    Cublas.Type.F32, 1, vocab, h, false);
        }
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
            blas.close();
            ctx.close();
        }
    }
}
