package dev.moespec.engine.cuda;

import dev.moespec.api.config.ModelConfig;
import dev.moespec.api.config.ModelRole;
import dev.moespec.api.config.QuantScheme;
import dev.moespec.api.device.DeviceInfo;
import dev.moespec.api.tensor.DType;
import dev.moespec.api.tensor.HostTensors;
import dev.moespec.api.tensor.Tensor;
import dev.moespec.engine.loader.Checkpoint;
import dev.moespec.engine.loader.CheckpointLayout;
import dev.moespec.engine.loader.MoeDecoderLayout;
import dev.moespec.engine.model.HostWeights;
import dev.moespec.engine.model.Linear;
import dev.moespec.engine.model.MoeWeightsFactory;
import dev.moespec.engine.model.Ops;
import dev.moespec.engine.moe.MoeLayerSpecs;
import dev.moespec.moe.KernelContext;
import dev.moespec.moe.MoeKernel;
import dev.moespec.moe.MoeKernelUnavailableException;
import dev.moespec.moe.MoeLayerSpec;
import dev.moespec.moe.reference.CpuReferenceBackendProvider;

import java.lang.foreign.Arena;
import java.nio.file.Path;
import java.util.stream.IntStream;

/**
 * A CPU forward pass (teacher-forced, full recompute, no cache) with the MoE layers on {@code cpu_reference}, in one
 * of two roundings:
 * <ul>
 *   <li>{@link Rounding#FP32}: everything fp32, the MoE fed and read in F32 — the same math as {@code CpuMoeModel}
 *       with cpu_reference kernels (a CPU test checks that);</li>
 *   <li>{@link Rounding#CUDA_RUNNER}: rounded exactly where {@link CudaMoeModel} rounds — BF16 projection, O and
 *       lm_head weights and GEMM inputs (the normed rows, the attention output, the final normed rows), BF16 MoE input
 *       and output (the backends' contract), everything else fp32 (residual stream, q/k norm, RoPE, attention, router).
 *       This is the CPU twin of a GPU run: with the same MoE quantisation, the two differ only by summation order and
 *       ulp-level differences of exp/rsqrt, so the GPU can be held to a tight bound against it.</li>
 * </ul>
 * Keeps the MoE input rows and router logits of every layer of the last call, for per-layer kernel comparisons.
 */
final class CudaPathReference implements AutoCloseable {

    enum Rounding { FP32, CUDA_RUNNER }

    /**
     * A relative perturbation of the residual stream after each attention block, {@code x *= 1 + relative·N(0, 1)}
     * with a seeded generator: {@code relative = 1e-7} is the size of an fp32 summation-order difference, so the
     * spread it causes is how far two implementations of the same math can drift apart (W8A8 amplifies it through
     * e4m3 rounding flips; a router near-tie turns it into a different expert).
     */
    record Perturbation(double relative, long seed) {
        static final Perturbation NONE = new Perturbation(0, 0);
    }

    /** One layer's MoE call: {@code hidden[rows, H]} (BF16 values under CUDA_RUNNER) and {@code routerLogits[rows, E]}. */
    record MoeCall(float[] hidden, float[] routerLogits, int rows) {}

    private final Checkpoint checkpoint;
    private final Rounding rounding;
    private final MoeLayerSpec spec;
    private final int h, nH, nKV, d, vocab, experts, layers;
    private final float eps;
    private final float[] embed, finalNorm, invFreq;
    private final Linear lmHead;
    private final float[][] inputNorm, postNorm, qNorm, kNorm;
    private final Linear[] q, k, v, o, router;
    private final MoeKernel[] moe;
    private final Arena weightsArena = Arena.ofShared();
    private final MoeCall[] lastCalls;

    CudaPathReference(Path dir, QuantScheme moeScheme, Rounding rounding) {
        ModelConfig cfg = ModelConfig.load(dir);
        this.checkpoint = Checkpoint.open(dir, CheckpointLayout.of(cfg));
        this.rounding = rounding;
        MoeDecoderLayout.Naming naming = ((MoeDecoderLayout) CheckpointLayout.of(cfg)).naming();
        spec = MoeLayerSpecs.of(cfg, cfg.quantization(), MoeLayerSpecs.DEFAULT_MAX_TOKENS).orElseThrow().withQuant(moeScheme);
        h = cfg.hiddenSize();
        nH = cfg.numAttentionHeads();
        nKV = cfg.numKeyValueHeads();
        d = cfg.headDim();
        vocab = cfg.vocabSize();
        experts = cfg.numExperts();
        layers = cfg.numHiddenLayers();
        eps = (float) cfg.rmsNormEps();
        invFreq = Ops.invFreq(d, cfg.ropeTheta());
        embed = HostWeights.vector(checkpoint, naming.embed());
        finalNorm = HostWeights.vector(checkpoint, naming.finalNorm());
        lmHead = dense(cfg.tieWordEmbeddings() ? embed : HostWeights.vector(checkpoint, naming.lmHead()), vocab, h);
        inputNorm = new float[layers][];
        postNorm = new float[layers][];
        qNorm = new float[layers][];
        kNorm = new float[layers][];
        q = new Linear[layers];
        k = new Linear[layers];
        v = new Linear[layers];
        o = new Linear[layers];
        router = new Linear[layers];
        moe = new MoeKernel[layers];
        lastCalls = new MoeCall[layers];
        var provider = new CpuReferenceBackendProvider();
        KernelContext context = new KernelContext(ModelRole.TARGET, DeviceInfo.cpu("test"), false);
        for (int l = 0; l < layers; l++) {
            inputNorm[l] = HostWeights.vector(checkpoint, naming.inputNorm(l));
            postNorm[l] = HostWeights.vector(checkpoint, naming.postAttnNorm(l));
            qNorm[l] = naming.hasQkNorm() ? HostWeights.vector(checkpoint, naming.qNorm(l)) : null;
            kNorm[l] = naming.hasQkNorm() ? HostWeights.vector(checkpoint, naming.kNorm(l)) : null;
            q[l] = dense(HostWeights.matrix(checkpoint, naming.attn(l, "q")), nH * d, h);
            k[l] = dense(HostWeights.matrix(checkpoint, naming.attn(l, "k")), nKV * d, h);
            v[l] = dense(HostWeights.matrix(checkpoint, naming.attn(l, "v")), nKV * d, h);
            o[l] = dense(HostWeights.matrix(checkpoint, naming.attn(l, "o")), h, nH * d);
            router[l] = new Linear(HostWeights.matrix(checkpoint, naming.router(l)), experts, h); // fp32 on the GPU too
            try {
                moe[l] = provider.create(spec, context);
            } catch (MoeKernelUnavailableException e) {
                throw new AssertionError(e);
            }
            moe[l].loadWeights(MoeWeightsFactory.build(checkpoint, naming, l, spec, weightsArena));
        }
    }

    MoeLayerSpec spec() {
        return spec;
    }

    int layers() {
        return layers;
    }

    /** The MoE call layer {@code l} saw in the last {@link #logits} call. */
    MoeCall moeCall(int l) {
        return lastCalls[l];
    }

    private Linear dense(float[] w, int out, int in) {
        return new Linear(rounding == Rounding.CUDA_RUNNER ? bf16(w.clone()) : w, out, in);
    }

    private float[] gemmInput(float[] x) {
        return rounding == Rounding.CUDA_RUNNER ? bf16(x) : x;
    }

    private static float[] bf16(float[] x) {
        for (int i = 0; i < x.length; i++) x[i] = HostTensors.roundTo(DType.BF16, x[i]);
        return x;
    }

    /** Logits {@code [position][vocab]} of every position of {@code tokens} (BOS first), causal attention. */
    float[][] logits(int[] tokens) {
        return logits(tokens, Perturbation.NONE);
    }

    /** {@link #logits(int[])} with the residual stream perturbed by {@code perturbation}. */
    float[][] logits(int[] tokens, Perturbation perturbation) {
        java.util.Random noise = new java.util.Random(perturbation.seed());
        int m = tokens.length, kvw = nKV * d, group = nH / nKV;
        float scale = (float) (1.0 / Math.sqrt(d));
        float[] x = new float[m * h];
        for (int r = 0; r < m; r++) System.arraycopy(embed, tokens[r] * h, x, r * h, h);
        for (int l = 0; l < layers; l++) {
            float[] a = gemmInput(Ops.rmsnormRows(x, m, h, inputNorm[l], eps));
            float[] qs = q[l].apply(a, m), ks = k[l].apply(a, m), vs = v[l].apply(a, m);
            for (int r = 0; r < m; r++) {
                for (int head = 0; head < nH; head++) {
                    if (qNorm[l] != null) Ops.rmsnorm(qs, r * nH * d + head * d, d, qNorm[l], eps);
                    Ops.rope(qs, r * nH * d + head * d, d, invFreq, r);
                }
                for (int g = 0; g < nKV; g++) {
                    if (kNorm[l] != null) Ops.rmsnorm(ks, r * kvw + g * d, d, kNorm[l], eps);
                    Ops.rope(ks, r * kvw + g * d, d, invFreq, r);
                }
            }
            float[] att = new float[m * nH * d];
            IntStream.range(0, m * nH).parallel().forEach(job -> {
                int row = job / nH, head = job % nH, g = head / group, qOff = row * nH * d + head * d;
                float[] s = new float[row + 1];
                float max = Float.NEGATIVE_INFINITY;
                for (int u = 0; u <= row; u++) {
                    float dot = 0f;
                    for (int c = 0; c < d; c++) dot += qs[qOff + c] * ks[u * kvw + g * d + c];
                    s[u] = dot * scale;
                    max = Math.max(max, s[u]);
                }
                float sum = 0f;
                for (int u = 0; u <= row; u++) sum += s[u] = (float) Math.exp(s[u] - max);
                for (int u = 0; u <= row; u++) {
                    float p = s[u] / sum;
                    for (int c = 0; c < d; c++) att[qOff + c] += p * vs[u * kvw + g * d + c];
                }
            });
            float[] y = o[l].apply(gemmInput(att), m);
            for (int n = 0; n < y.length; n++) x[n] += y[n];
            if (perturbation.relative() > 0) {
                for (int n = 0; n < x.length; n++) x[n] *= (float) (1 + perturbation.relative() * noise.nextGaussian());
            }
            float[] b = Ops.rmsnormRows(x, m, h, postNorm[l], eps);
            float[] logits = router[l].apply(b, m);
            float[] moeIn = gemmInput(b.clone());
            lastCalls[l] = new MoeCall(moeIn, logits, m);
            float[] f = moe(l, moeIn, logits, m);
            for (int n = 0; n < f.length; n++) x[n] += f[n];
        }
        float[] hn = gemmInput(Ops.rmsnormRows(x, m, h, finalNorm, eps));
        float[] all = lmHead.apply(hn, m);
        float[][] out = new float[m][];
        for (int r = 0; r < m; r++) out[r] = java.util.Arrays.copyOfRange(all, r * vocab, (r + 1) * vocab);
        return out;
    }

    /** The MoE through cpu_reference with the runner's BF16 I/O (or F32 I/O under FP32). */
    private float[] moe(int l, float[] hidden, float[] logits, int m) {
        DType io = rounding == Rounding.CUDA_RUNNER ? DType.BF16 : DType.F32;
        try (Arena arena = Arena.ofConfined()) {
            Tensor out = HostTensors.allocate(arena, io, m, h);
            moe[l].forward(HostTensors.fromFloats(arena, io, hidden, m, h), HostTensors.fromFloats(arena, DType.F32, logits, m, experts),
                    out, 0L);
            return HostTensors.toFloats(out);
        }
    }

    @Override
    public void close() {
        for (MoeKernel kernel : moe) if (kernel != null) kernel.close();
        weightsArena.close();
        checkpoint.close();
    }
}
