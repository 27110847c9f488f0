package dev.moespec.backend.triton;

import dev.moespec.api.tensor.DType;
import dev.moespec.api.tensor.Tensor;
import dev.moespec.cuda.CudaContext;
import dev.moespec.cuda.CudaFunction;
import dev.moespec.cuda.CudaModule;
import dev.moespec.cuda.DeviceBuffer;
import dev.moespec.cuda.Dim3;
import dev.moespec.cuda.KernelArgs;
import dev.moespec.moe.MoeLayerSpec;
import dev.moespec.moe.MoeTensorChecks;
import dev.moespec.moe.MoeWeights;
import dev.moespec.moe.Routing;
import dev.moespec.moe.StagedMoeKernel;

import java.lang.foreign.MemorySegment;
import java.util.Objects;
import java.util.Set;

/**
 * triton's fused MoE on one CUDA device: {@link #route} (top-k routing, then the token→expert alignment, both on
 * the GPU) and {@link #experts} (activation quantisation for FP8, grouped GEMM 1 + SwiGLU, grouped GEMM 2 with the
 * router weights, reduction over top-k). Calls of up to {@value TritonPath#SKINNY_MAX_TOKENS} tokens mostly take the
 * skinny tensor-core kernels that stream the weights, larger ones the grouped GEMMs ({@link PrefillGemms}: wgmma on
 * sm_90 from its measured crossover, mma.sync tile-64 otherwise); {@code path(m)} decides. A call allocates nothing
 * and never synchronises with the host, so it can be captured in a CUDA graph; every argument is checked before the
 * first launch.
 *
 * <p>Device memory: the weights at {@link #loadWeights}, the workspace (sized from {@code maxTokens}) at the same
 * time; {@link #close} frees both and releases the primary context.
 */
public final class TritonMoeKernel implements StagedMoeKernel {

    /**
     * The largest M the weight-streaming GEMV kernels ({@link TritonPath#DECODE}) serve: their per-token accumulators
     * live in registers.
     */
    static final int DECODE_MAX_TOKENS = 8;
    private static final int DECODE_WARPS = 8;

    private final MoeLayerSpec layer;
    private final TritonNumerics numerics;
    private final Set<DType> activationDTypes;
    private final int deviceOrdinal;
    private final ClassLoader kernelLoader;
    private CudaContext ctx;
    private CudaModule module;
    private DeviceExpertWeights weights;
    private TritonWorkspace ws;
    private PrefillGemms prefill;
    private DeviceBuffer routingBias;
    private int routedTokens = -1;
    private TritonPath forcedPath = TritonPath.fromSystemProperty();
    private boolean closed;

    /**
     * Touches no device: the primary context, the module, the weights and the workspace come at {@link #loadWeights},
     * so that a plan-only caller ({@code moespec plan --assume-device h100}) can create kernels on any machine.
     */
    TritonMoeKernel(MoeLayerSpec layer, int deviceOrdinal, TritonNumerics numerics, ClassLoader kernelLoader) {
        this.layer = Objects.requireNonNull(layer, "layer");
        this.numerics = Objects.requireNonNull(numerics, "numerics");
        this.deviceOrdinal = deviceOrdinal;
        this.kernelLoader = Objects.requireNonNull(kernelLoader, "kernelLoader");
        this.activationDTypes = Set.of(MoeTensorChecks.activationDType(layer.quant()));
    }

    private void openDevice() {
        if (ctx != null) return;
        CudaContext c = CudaContext.open(deviceOrdinal);
        try {
            module = CudaModule.fromResource(c, kernelLoader, CudaModule.kernelResource(TritonMoeBackendProvider.ARTIFACT_ID));
        } catch (RuntimeException e) {
            c.close();
            throw e;
        }
        ctx = c;
    }

    @Override
    public String backend() {
        return TritonMoeBackendProvider.NAME;
    }

    @Override
    public MoeLayerSpec layer() {
        return layer;
    }

    /** How this kernel computes (visible to tests and the tuning tool). */
    TritonNumerics numerics() {
        return numerics;
    }

    @Override
    public void loadWeights(MoeWeights w) {
        requireOpen();
        Objects.requireNonNull(w, "weights");
        openDevice();
        if (prefill == null) prefill = new PrefillGemms(module, layer, numerics, ctx.info().sm(), PrefillGemms.Path.fromSystemProperty());
        DeviceExpertWeights uploaded = DeviceExpertWeights.upload(ctx, layer, numerics, w);
        if (weights != null) weights.close();
        weights = uploaded;
        if (ws == null) {
            ws = new TritonWorkspace(ctx, layer, numerics);
            for (int tile : SkinnyPlan.TOKEN_TILES) {
                if (SkinnyPlan.smemBytes(tile) > ctx.limits().maxSharedMemoryPerBlockOptin()) continue;
                String sfx = numerics.suffix() + new SkinnyPlan(tile, 1).kernelSuffix();
                fn("moe_skinny_gemm1_" + sfx).setMaxDynamicSharedMemory(SkinnyPlan.smemBytes(tile));
                fn("moe_skinny_gemm2_" + sfx).setMaxDynamicSharedMemory(SkinnyPlan.smemBytes(tile));
            }
        }
        if (routingBias == null && layer.routing() instanceof Routing.SigmoidGroupedTopK g) {
            float[] bias = g.correctionBias();
            routingBias = DeviceBuffer.alloc(ctx, 4L * bias.length);
            routingBias.copyFrom(MemorySegment.ofArray(bias));
        }
    }

    @Override
    public void forward(Tensor hidden, Tensor routerLogits, Tensor out, long stream) {
        requireLoaded();
        MoeTensorChecks.checkForward(layer, hidden, routerLogits, out, activationDTypes, Tensor.Placement.DEVICE);
        requireAligned(hidden, out);
        route(routerLogits, stream);
        experts(hidden, out, stream);
    }

    @Override
    public void route(Tensor routerLogits, long stream) {
        requireLoaded();
        int m = checkLogits(routerLogits);
        routedTokens = m;
        if (m == 0) return;
        int e = layer.numExperts(), k = layer.topK();
        int logitsBf16 = routerLogits.dtype() == DType.BF16 ? 1 : 0;
        long logits = routerLogits.data().address();
        Dim3 grid = Dim3.of((m + 3) / 4), block = Dim3.of(128);
        switch (layer.routing()) {
            case Routing.SoftmaxTopK s -> fn("moe_softmax_topk").launch(grid, block, 0, stream, KernelArgs.create()
                    .ptr(logits).i32(logitsBf16).i32(m).i32(e).i32(k).i32(s.renormalize() ? 1 : 0)
                    .ptr(ws.topkIds).ptr(ws.topkWeights));
            case Routing.SigmoidGroupedTopK g -> fn("moe_sigmoid_grouped_topk").launch(grid, block, 0, stream, KernelArgs.create()
                    .ptr(logits).i32(logitsBf16).i32(m).i32(e).i32(k).i32(g.numGroups()).i32(g.topKGroups())
                    .i32(g.renormalize() ? 1 : 0).f32(g.routedScalingFactor()).ptr(routingBias)
                    .ptr(ws.topkIds).ptr(ws.topkWeights));
        }
        int alignBlock = path(m) == TritonPath.SKINNY ? skinnyPlan(m).tokenTile() : TritonWorkspace.BLOCK_M;
        fn("moe_align").launch(Dim3.of(1), Dim3.of(1024), 0, stream, KernelArgs.create()
                .ptr(ws.topkIds).i32(m * k).i32(e).i32(alignBlock).ptr(ws.counts).ptr(ws.paddedOffsets)
                .ptr(ws.sortedRows).ptr(ws.blockExpert).ptr(ws.activeExperts).ptr(ws.meta));
    }

    @Override
    public void experts(Tensor hidden, Tensor out, long stream) {
        requireLoaded();
        int m = checkActivations(hidden, out);
        if (m != routedTokens) {
            throw new IllegalStateException("experts() got M=" + m + " tokens but the last route() was for M=" + routedTokens
                    + "; call route(routerLogits) for these tokens first (or forward())");
        }
        if (m == 0) return;
        int h = layer.hiddenSize(), i = layer.intermediateSize(), k = layer.topK(), a = m * k;
        int gemmBytes = numerics.gemmType().byteSize();
        int hp = weights.h13Stride(), ip = weights.i2Stride();
        boolean quantised = numerics.quantised();
        int hiddenCode = TritonNumerics.code(hidden.dtype());
        int outGemmCode = numerics.gemmCode();

        // GEMM-1 operand: the hidden rows themselves, or their quantised copy
        long x = hidden.data().address();
        long xRowBytes = (long) h * hidden.dtype().byteSize();
        if (quantised) {
            quantise(hidden.data().address(), hiddenCode, m, h, hp, null, ws.xq, outGemmCode, ws.xScale, ws.interAmax, a, stream);
            x = ws.xq.address();
            xRowBytes = (long) hp * gemmBytes;
        }
        int scaleMode = numerics.scaleMode();
        int perRow = numerics.activation() == TritonNumerics.ActivationQuant.ROWS ? 1 : 0;
        int interCode = quantised ? TritonNumerics.CODE_F32 : numerics.gemmCode();
        int outCode = TritonNumerics.code(out.dtype());
        long w13Scale = weights.w13Scale() == null ? 0 : weights.w13Scale().address();
        long w2Scale = weights.w2Scale() == null ? 0 : weights.w2Scale().address();
        TritonPath path = path(m);
        boolean decode = path == TritonPath.DECODE;
        SkinnyPlan skinny = path == TritonPath.SKINNY ? skinnyPlan(m) : null;
        int slots = Math.min(layer.numExperts(), a);
        long mTiles = TritonWorkspace.mTilesBound(layer, a);
        String sfx = numerics.suffix();
        String tok = m == 1 ? "_t1" : m <= 4 ? "_t4" : "_t8";

        if (skinny != null) {
            fn("moe_skinny_gemm1_" + sfx + skinny.kernelSuffix()).launch(
                    Dim3.of(Math.toIntExact(TritonWorkspace.mTilesBound(layer, a, skinny.tokenTile())), ceil(i, SkinnyPlan.CTA_ROWS / 2)),
                    Dim3.of(SkinnyPlan.THREADS), skinny.smemBytes(), stream,
                    KernelArgs.create().ptr(x).i64(xRowBytes).ptr(weights.w13()).i32(hp * gemmBytes).i32(i).i32(k)
                            .ptr(ws.sortedRows).ptr(ws.blockExpert).ptr(ws.meta)
                            .i32(scaleMode).ptr(addr(ws.xScale)).i32(perRow).ptr(w13Scale)
                            .ptr(ws.inter).i32(interCode).ptr(addr(ws.interAmax)).i32(perRow));
        } else if (decode) {
            fn("moe_decode_gemm1_" + sfx + tok).launch(Dim3.of(ceil(i, DECODE_WARPS), slots), Dim3.of(32 * DECODE_WARPS), 0, stream,
                    KernelArgs.create().ptr(x).i64(xRowBytes).ptr(weights.w13()).i32(hp * gemmBytes).i32(i).i32(k)
                            .ptr(ws.sortedRows).ptr(ws.paddedOffsets).ptr(ws.counts).ptr(ws.activeExperts).ptr(ws.meta)
                            .i32(scaleMode).ptr(addr(ws.xScale)).i32(perRow).ptr(w13Scale)
                            .ptr(ws.inter).i32(interCode).ptr(addr(ws.interAmax)).i32(perRow));
        } else {
            prefill.gemm1(m, x, xRowBytes, weights.w13().address(), hp * gemmBytes, i, k, mTiles, ws, scaleMode, addr(ws.xScale),
                    perRow, w13Scale, ws.inter.address(), interCode, addr(ws.interAmax), stream);
        }

        long interOperand = ws.inter.address();
        long interRowBytes = (long) i * numerics.gemmType().byteSize();
        if (quantised) {
            // per-tensor and per-row scales come from the amax GEMM 1 accumulated; 128-column groups from the rows
            DeviceBuffer amax = numerics.activation() == TritonNumerics.ActivationQuant.GROUP_128 ? null : ws.interAmax;
            quantise(ws.inter.address(), TritonNumerics.CODE_F32, a, i, ip, amax, ws.interQ, outGemmCode, ws.interScale, null, 0, stream);
            interOperand = ws.interQ.address();
            interRowBytes = (long) ip * gemmBytes;
        }
        int reduceSlots = k;
        if (skinny != null) {
            reduceSlots = k * skinny.gemm2Splits();
            fn("moe_skinny_gemm2_" + sfx + skinny.kernelSuffix()).launch(
                    Dim3.of(Math.toIntExact(TritonWorkspace.mTilesBound(layer, a, skinny.tokenTile())), ceil(h, SkinnyPlan.CTA_ROWS),
                            skinny.gemm2Splits()),
                    Dim3.of(SkinnyPlan.THREADS), skinny.smemBytes(), stream,
                    KernelArgs.create().ptr(interOperand).i64(interRowBytes).ptr(weights.w2()).i32(ip * gemmBytes).i32(h)
                            .ptr(ws.sortedRows).ptr(ws.blockExpert).ptr(ws.meta)
                            .i32(scaleMode).ptr(addr(ws.interScale)).i32(perRow).ptr(w2Scale)
                            .ptr(ws.topkWeights).ptr(ws.partial));
        } else if (decode) {
            fn("moe_decode_gemm2_" + sfx + tok).launch(Dim3.of(ceil(h, DECODE_WARPS), slots), Dim3.of(32 * DECODE_WARPS), 0, stream,
                    KernelArgs.create().ptr(interOperand).ptr(weights.w2()).i32(ip * gemmBytes).i32(h)
                            .ptr(ws.sortedRows).ptr(ws.paddedOffsets).ptr(ws.counts).ptr(ws.activeExperts).ptr(ws.meta)
                            .i32(scaleMode).ptr(addr(ws.interScale)).i32(perRow).ptr(w2Scale)
                            .ptr(ws.topkWeights).ptr(ws.partial));
        } else {
            prefill.gemm2(m, interOperand, interRowBytes, weights.w2().address(), ip * gemmBytes, h, mTiles, ws, scaleMode,
                    addr(ws.interScale), perRow, w2Scale, stream);
        }
        long pairs = (long) m * h / 2;
        fn("moe_reduce_topk").launch(Dim3.of((int) Math.min(4096, (pairs + 255) / 256)), Dim3.of(256), 0, stream,
                KernelArgs.create().ptr(ws.partial).i32(m).i32(h).i32(reduceSlots).ptr(out.data().address()).i32(outCode));
    }

    /** Forces the kernels of {@code path} for every call it can serve (null: automatic); tests and tuning use it. */
    void forcePath(TritonPath path) {
        forcedPath = path;
    }

    /**
     * The kernels of a call of {@code m} tokens (all of the dispatch is here): the forced path if any; else, up to
     * {@value TritonPath#SKINNY_MAX_TOKENS} tokens, the skinny kernels where their plan beats the tile-64 GEMMs
     * ({@link SkinnyPlan#beatsTileGemm}), except block-128 layers at M = 1, where the GEMV kernels were as fast or
     * faster on every anchor shape (H100, 2026-11-27: mixtral fp8block 265 vs 302 µs); else the tile-64 GEMMs.
     */
    private TritonPath path(int m) {
        TritonPath p = TritonPath.choose(m, forcedPath);
        if (p != TritonPath.SKINNY || forcedPath != null) return p;
        boolean block128 = numerics.scaleMode() == TritonNumerics.BLOCK_128;
        if (block128 && m == 1) return TritonPath.DECODE;
        return skinnyPlan(m).beatsTileGemm(block128) ? TritonPath.SKINNY : TritonPath.GEMM;
    }

    private SkinnyPlan skinnyPlan(int m) {
        return SkinnyPlan.of(layer, m, ctx.info().multiprocessors(), weights.i2Stride() * numerics.gemmType().byteSize(),
                ctx.limits().maxSharedMemoryPerBlockOptin());
    }

    /**
     * Quantises {@code src[rows, cols]} as the layer's activation scheme says into {@code dst[rows, stride]}: e4m3 bytes
     * (e4m3 GEMMs) or the same e4m3 values as fp16 (fp16 GEMMs); the scales go to {@code scales}. Zeroes
     * {@code zero[0, nZero)}.
     */
    private void quantise(long src, int srcCode, int rows, int cols, int stride, DeviceBuffer rowAmax, DeviceBuffer dst,
                          int dstCode, DeviceBuffer scales, DeviceBuffer zero, int nZero, long stream) {
        int outStride = stride;
        switch (numerics.activation()) {
            case TENSOR -> {
                DeviceBuffer partials = rowAmax;
                int nPartials = 1;
                if (rowAmax == null) {
                    long n = (long) rows * cols;
                    nPartials = (int) Math.min(TritonWorkspace.AMAX_PARTIALS, Math.max(1, (n + 2047) / 2048));
                    fn("moe_amax_partial").launch(Dim3.of(nPartials), Dim3.of(256), 0, stream,
                            KernelArgs.create().ptr(src).i32(srcCode).i64(n).ptr(ws.amaxPartial));
                    partials = ws.amaxPartial;
                }
                fn("moe_quant_tensor_e4m3").launch(Dim3.of(Math.min(rows, 2048)), Dim3.of(256), 0, stream,
                        KernelArgs.create().ptr(src).i32(srcCode).i32(rows).i32(cols).i32(outStride).ptr(partials).i32(nPartials)
                                .ptr(dst).i32(dstCode).ptr(scales).ptr(addr(zero)).i32(nZero));
            }
            case ROWS, GROUP_128 -> fn("moe_quant_rows_e4m3").launch(Dim3.of(rows), Dim3.of(256), 0, stream,
                    KernelArgs.create().ptr(src).i32(srcCode).i32(rows).i32(cols).i32(outStride)
                            .i32(numerics.activation() == TritonNumerics.ActivationQuant.GROUP_128 ? 128 : cols)
                            .ptr(addr(rowAmax)).ptr(dst).i32(dstCode).ptr(scales).ptr(addr(zero)).i32(nZero));
            case NONE -> throw new IllegalStateException("no activation quantisation for " + layer.describe());
        }
    }

    private int checkLogits(Tensor logits) {
        if (logits.placement() != Tensor.Placement.DEVICE) {
            throw new IllegalArgumentException("routerLogits must be a device tensor for this backend, got " + logits.describe());
        }
        if (logits.rank() != 2 || logits.dim(1) != layer.numExperts()) {
            throw new IllegalArgumentException("routerLogits must be [M, " + layer.numExperts() + "] for layer " + layer.describe()
                    + ", got " + logits.describe());
        }
        if (logits.dtype() != DType.F32 && logits.dtype() != DType.BF16) {
            throw new IllegalArgumentException("routerLogits must be F32 or BF16, got " + logits.describe());
        }
        return checkTokens("routerLogits", logits.dim(0));
    }

    private int checkActivations(Tensor hidden, Tensor out) {
        for (var named : new Object[][]{{"hidden", hidden}, {"out", out}}) {
            Tensor t = (Tensor) named[1];
            if (t.placement() != Tensor.Placement.DEVICE) {
                throw new IllegalArgumentException(named[0] + " must be a device tensor for this backend, got " + t.describe());
            }
        }
        if (hidden.rank() != 2 || hidden.dim(1) != layer.hiddenSize()) {
            throw new IllegalArgumentException("hidden must be [M, " + layer.hiddenSize() + "] for layer " + layer.describe()
                    + ", got " + hidden.describe());
        }
        int m = checkTokens("hidden", hidden.dim(0));
        MoeTensorChecks.requireShape("out", out, m, layer.hiddenSize());
        if (!activationDTypes.contains(hidden.dtype())) {
            throw new IllegalArgumentException("hidden must be " + activationDTypes.iterator().next() + " for a "
                    + layer.quant().cliName() + " layer, got " + hidden.describe());
        }
        if (out.dtype() != hidden.dtype()) {
            throw new IllegalArgumentException("out must have hidden's dtype " + hidden.dtype() + ", got " + out.describe());
        }
        requireAligned(hidden, out);
        return m;
    }

    private int checkTokens(String name, long m) {
        if (m > layer.maxTokens()) {
            throw new IllegalArgumentException(name + " has M=" + m + " tokens but the layer was built for at most maxTokens="
                    + layer.maxTokens() + "; split the batch or create the kernel with MoeLayerSpec.withMaxTokens(" + m + ")");
        }
        return (int) m;
    }

    private static void requireAligned(Tensor hidden, Tensor out) {
        // the kernels read hidden rows as 16-byte vectors and write out in 4-byte pairs
        if (hidden.data().address() % 16 != 0 || out.data().address() % 16 != 0) {
            throw new IllegalArgumentException("hidden and out must start on a 16-byte boundary (triton reads 16-byte vectors), got "
                    + hidden.describe() + " at 0x" + Long.toHexString(hidden.data().address()) + " and " + out.describe()
                    + " at 0x" + Long.toHexString(out.data().address()));
        }
    }

    private CudaFunction fn(String name) {
        return module.function(name);
    }

    private static long addr(DeviceBuffer b) {
        return b == null ? 0L : b.address();
    }

    private static int ceil(int n, int d) {
        return (n + d - 1) / d;
    }

    private void requireOpen() {
        if (closed) throw new IllegalStateException("triton kernel for " + layer.describe() + " is closed");
    }

    private void requireLoaded() {
        requireOpen();
        if (weights == null) {
            throw new IllegalStateException("triton kernel for " + layer.describe() + " has no weights; call loadWeights first");
        }
    }

    @Override
    public void close() {
        if (closed) return;
        closed = true;
        if (weights != null) weights.close();
        if (ws != null) ws.close();
        if (routingBias != null) routingBias.close();
        if (module != null) module.close();
        if (ctx != null) ctx.close();
    }
}
