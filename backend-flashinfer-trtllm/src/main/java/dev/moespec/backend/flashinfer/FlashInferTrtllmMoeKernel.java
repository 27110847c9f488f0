package dev.moespec.backend.flashinfer;

import dev.moespec.api.config.QuantScheme;
import dev.moespec.api.tensor.DType;
import dev.moespec.api.tensor.Tensor;
import dev.moespec.cuda.CudaContext;
import dev.moespec.cuda.CudaFunction;
import dev.moespec.cuda.CudaModule;
import dev.moespec.cuda.Dim3;
import dev.moespec.cuda.KernelArgs;
import dev.moespec.moe.MoeLayerSpec;
import dev.moespec.moe.MoeTensorChecks;
import dev.moespec.moe.MoeWeights;
import dev.moespec.moe.Routing;
import dev.moespec.moe.StagedMoeKernel;

import java.util.Objects;
import java.util.Set;

/**
 * flashinfer_trtllm's fused MoE for one FP8 layer on one CUDA device (TRT-LLM design: permute, grouped FP8 GEMMs,
 * finalize). {@link #route}: top-k routing, then the token→expert permutation padded to the GEMM tile height, all
 * on the device. {@link #experts}: activation quantisation (per token per 128 columns, or per tensor), grouped
 * GEMM 1 on e4m3 tensor cores with SwiGLU and the intermediate's re-quantisation in its epilogue, grouped GEMM 2
 * writing one fp32 partial row per (split, token, slot), and the finalize that sums {@code w_k * expert_k(x)} over
 * the slots and splits in a fixed order (no atomics: the output is bit-identical from run to run, and a row's output
 * does not depend on the other rows of a call with the same M). Six launches (ten per-tensor), no allocation and no
 * host synchronisation per call.
 *
 * <p>A kernel created in plan-only mode holds no device state: {@link #loadWeights} and the forward methods refuse
 * with {@link IllegalStateException}.
 */
public final class FlashInferTrtllmMoeKernel implements StagedMoeKernel {

    /** System property: {@code false} keeps prefill on the mma.sync kernels on sm_90 too (for A/B measurements). */
    public static final String WGMMA_PROPERTY = "moespec.flashinfer.wgmma";

    /**
     * System property: {@code false} runs 128-row tiles on round 2's wgmma kernels (one role per thread, a CTA-wide
     * barrier per K block) instead of the warp-specialised persistent ones (for A/B measurements).
     */
    public static final String WARP_SPECIALISED_PROPERTY = "moespec.flashinfer.ws";

    /**
     * System property for A/B runs of the decode GEMM 1 (16-row tiles, Hopper): {@code true} the 3-stage kernel with 2
     * CTAs per SM, {@code false} the 4-stage one with 1; unset: the measured default ({@link #decodeTwoPerSm}).
     */
    public static final String DECODE_X2_PROPERTY = "moespec.flashinfer.decodeX2";

    /** System property for A/B runs: GEMM 2's split-K aims at this many waves of CTAs (default 2). */
    public static final String SPLIT_WAVES_PROPERTY = "moespec.flashinfer.splitWaves";

    private final MoeLayerSpec layer;
    private final Device device; // null in plan-only mode
    private DeviceExpertWeights weights;
    private LaunchPlan routed;    // the plan of the last route(), null before the first
    private int forcedBm;        // 0: heuristic; tuning may force 16, 64 or 128
    private boolean warpSpecialised; // 128-row tiles on the warp-specialised kernels (else round 2's wgmma kernels)
    private Boolean decodeX2;        // null: the measured default; else forced (tests, A/B)

    private FlashInferTrtllmMoeKernel(MoeLayerSpec layer, Device device) {
        this.layer = layer;
        this.device = device;
        this.warpSpecialised = !"false".equalsIgnoreCase(System.getProperty(WARP_SPECIALISED_PROPERTY, "true"));
        String x2 = System.getProperty(DECODE_X2_PROPERTY);
        this.decodeX2 = x2 == null ? null : Boolean.valueOf(x2);
    }

    /** A kernel that only describes itself ({@code moespec plan}): nothing is allocated on the device. */
    static FlashInferTrtllmMoeKernel planOnly(MoeLayerSpec layer) {
        return new FlashInferTrtllmMoeKernel(layer, null);
    }

    /** Opens device {@code ordinal}, loads the module's kernels and allocates the workspace for {@code layer}. */
    static FlashInferTrtllmMoeKernel open(MoeLayerSpec layer, int ordinal, ClassLoader kernelLoader) {
        return new FlashInferTrtllmMoeKernel(layer, Device.open(layer, ordinal, kernelLoader));
    }

    @Override
    public String backend() {
        return FlashInferTrtllmMoeBackendProvider.NAME;
    }

    @Override
    public MoeLayerSpec layer() {
        return layer;
    }

    /**
     * Forces the GEMM tile height instead of the heuristic: 16 or 64 (mma.sync kernels), 128 (wgmma kernels, sm_90
     * only); 0 restores it. For tuning runs and tests.
     */
    public void forceTileRows(int bm) {
        if (bm != 0 && bm != 16 && bm != 64 && bm != 128) {
            throw new IllegalArgumentException("tile rows must be 0 (auto), 16, 64 or 128, got " + bm);
        }
        if (bm == 128 && device != null && !device.wgmma) {
            throw new IllegalArgumentException("tile rows 128 need the wgmma kernels, which run on sm_90 only; this device is sm_"
                    + device.ctx.info().sm() + " (use 16 or 64)");
        }
        this.forcedBm = bm;
    }

    /** Whether prefill runs the sm_90a wgmma kernels on this device (false in plan-only mode). */
    public boolean usesWgmma() {
        return device != null && device.wgmma;
    }

    /**
     * Picks the kernels of 128-row tiles: {@code true} (the default, unless {@value #WARP_SPECIALISED_PROPERTY} is
     * {@code false}) the warp-specialised persistent ones of {@code moe_gemm_ws.cu}, {@code false} round 2's of
     * {@code moe_gemm_wgmma.cu}. For tests and A/B runs; no effect on other tile heights.
     */
    public void useWarpSpecialised(boolean on) {
        this.warpSpecialised = on;
    }

    /**
     * Forces the decode GEMM 1 (16-row tiles) onto the 3-stage 2-CTAs-per-SM kernel ({@code true}) or the 4-stage
     * one ({@code false}); {@code null} restores the measured default. No effect where the device lacks the shared
     * memory for two such CTAs per SM (only Hopper has it). For tests and A/B runs.
     */
    public void useDecodeTwoPerSm(Boolean on) {
        this.decodeX2 = on;
    }

    /** Whether a call with {@code tokens} rows runs GEMM 1 on the 2-CTAs-per-SM decode kernel on this device. */
    public boolean decodeTwoPerSm(int tokens) {
        if (device == null) return false;
        return decodeTwoPerSm(LaunchPlan.of(layer, tokens, device.multiprocessors, device.wgmma, forcedBm, device.splitWaves));
    }

    private boolean decodeTwoPerSm(LaunchPlan plan) {
        if (device == null || device.gemm1Bm16X2 == null || plan.bm() != 16) return false;
        return decodeX2 != null ? decodeX2 : DEFAULT_DECODE_X2;
    }

    /** The measured default of {@link #decodeTwoPerSm} (H100 A/B in README "Round 4"). */
    static final boolean DEFAULT_DECODE_X2 = true;

    /** Whether 128-row tiles run on the warp-specialised persistent kernels. */
    public boolean usesWarpSpecialised() {
        return usesWgmma() && warpSpecialised;
    }

    @Override
    public void loadWeights(MoeWeights w) {
        Objects.requireNonNull(w, "weights");
        Device d = requireDevice("loadWeights");
        DeviceExpertWeights.validate(layer, w);
        if (weights != null) {
            throw new IllegalStateException("loadWeights was already called on this kernel; create a new kernel for other weights");
        }
        weights = DeviceExpertWeights.upload(d.ctx, layer, w);
    }

    @Override
    public void forward(Tensor hidden, Tensor routerLogits, Tensor out, long stream) {
        MoeTensorChecks.checkForward(layer, hidden, routerLogits, out, Set.of(DType.BF16), Tensor.Placement.DEVICE);
        requireReady("forward");
        route(routerLogits, stream);
        experts(hidden, out, stream);
    }

    @Override
    public void route(Tensor routerLogits, long stream) {
        Objects.requireNonNull(routerLogits, "routerLogits");
        if (routerLogits.placement() != Tensor.Placement.DEVICE) {
            throw new IllegalArgumentException("routerLogits must be a device tensor for this backend, got " + routerLogits.describe());
        }
        if (routerLogits.rank() != 2 || routerLogits.dim(1) != layer.numExperts()) {
            throw new IllegalArgumentException("routerLogits must be [M, " + layer.numExperts() + "] for layer " + layer.describe()
                    + ", got " + routerLogits.describe());
        }
        if (routerLogits.dtype() != DType.F32 && routerLogits.dtype() != DType.BF16) {
            throw new IllegalArgumentException("routerLogits must be F32 or BF16, got " + routerLogits.describe());
        }
        long m = routerLogits.dim(0);
        if (m > layer.maxTokens()) {
            throw new IllegalArgumentException("routerLogits has M=" + m + " tokens but the layer was built for at most maxTokens="
                    + layer.maxTokens() + "; split the batch or create the kernel with MoeLayerSpec.withMaxTokens(" + m + ")");
        }
        Device d = requireReady("route");
        LaunchPlan plan = LaunchPlan.of(layer, (int) m, d.multiprocessors, d.wgmma, forcedBm, d.splitWaves);
        routed = plan;
        if (m == 0) return;
        d.launchRoute(layer, plan, routerLogits, stream);
    }

    @Override
    public void experts(Tensor hidden, Tensor out, long stream) {
        Objects.requireNonNull(hidden, "hidden");
        Objects.requireNonNull(out, "out");
        Device d = requireReady("experts");
        if (routed == null) throw new IllegalStateException("experts() needs a route() of the same M first");
        for (Tensor t : new Tensor[]{hidden, out}) {
            if (t.placement() != Tensor.Placement.DEVICE) {
                throw new IllegalArgumentException((t == hidden ? "hidden" : "out") + " must be a device tensor for this backend, got " + t.describe());
            }
        }
        MoeTensorChecks.requireShape("hidden", hidden, routed.tokens(), layer.hiddenSize());
        MoeTensorChecks.requireShape("out", out, routed.tokens(), layer.hiddenSize());
        if (hidden.dtype() != DType.BF16 || out.dtype() != DType.BF16) {
            throw new IllegalArgumentException("hidden and out must be BF16 for a " + layer.quant().cliName() + " layer, got "
                    + hidden.describe() + " and " + out.describe());
        }
        if (routed.tokens() == 0) return;
        d.launchExperts(layer, routed, weights, hidden, out, warpSpecialised, decodeTwoPerSm(routed), stream);
    }

    private Device requireDevice(String what) {
        if (device == null) {
            throw new IllegalStateException(what + "(): this flashinfer_trtllm kernel was created in plan-only mode and holds no "
                    + "device state; create it with KernelContext.planOnly=false to run it");
        }
        if (device.ctx.isClosed()) throw new IllegalStateException(what + "(): this kernel is closed");
        return device;
    }

    private Device requireReady(String what) {
        Device d = requireDevice(what);
        if (weights == null) throw new IllegalStateException(what + "(): call loadWeights first");
        return d;
    }

    @Override
    public void close() {
        if (device == null) return;
        device.close(); // closes the weights too: they were allocated in its context
    }

    /** The device half: context, kernels, workspace, and the launch sequence. */
    private static final class Device implements AutoCloseable {
        final CudaContext ctx;
        final int multiprocessors;
        final Workspace ws;
        final boolean block;
        final int stages;
        final boolean wgmma; // sm_90: the 128-row wgmma kernels serve prefill
        final CudaFunction routeTopk, align, quantHiddenBlock, amaxPartial, amaxFinalize, quantTensorBf16, quantTensorF32,
                finalizeOut, gemm1Bm16, gemm1Bm64, gemm2Bm16, gemm2Bm64;
        final CudaFunction gemm1Wg, gemm2Wg; // null unless wgmma
        final CudaFunction gemm1Ws, gemm2Ws; // warp-specialised persistent (moe_gemm_ws.cu); null unless wgmma
        final CudaFunction gemm1Bm16X2;      // 3 stages, 2 CTAs per SM; null where two such CTAs do not fit an SM
        final int splitWaves;

        private Device(CudaContext ctx, MoeLayerSpec layer, CudaModule module) {
            this.ctx = ctx;
            this.multiprocessors = ctx.info().multiprocessors();
            this.block = layer.quant() == QuantScheme.FP8_BLOCK_128;
            // 4 cp.async stages where the opt-in shared memory holds them (Hopper: 227 KiB), else 2 (Ada: 99 KiB)
            this.stages = stageBytes(64, 256) * 4 <= ctx.limits().maxSharedMemoryPerBlockOptin() ? 4 : 2;
            String q = block ? "block" : "tensor";
            routeTopk = module.function("fi_route_topk");
            align = module.function("fi_align");
            quantHiddenBlock = module.function("fi_quant_hidden_block");
            amaxPartial = module.function("fi_amax_partial_bf16");
            amaxFinalize = module.function("fi_amax_finalize");
            quantTensorBf16 = module.function("fi_quant_tensor_bf16");
            quantTensorF32 = module.function("fi_quant_tensor_f32");
            finalizeOut = module.function("fi_finalize_out");
            gemm1Bm16 = gemm(module, "fi_gemm1_" + q + "_bm16_s" + stages, stageBytes(16, 256));
            gemm1Bm64 = gemm(module, "fi_gemm1_" + q + "_bm64_s" + stages, stageBytes(64, 256));
            gemm2Bm16 = gemm(module, "fi_gemm2_" + q + "_bm16_s" + stages, stageBytes(16, 128));
            gemm2Bm64 = gemm(module, "fi_gemm2_" + q + "_bm64_s" + stages, stageBytes(64, 128));
            // Hopper-sized shared memory (the 4-stage case) holds two 3-stage 16-row CTAs per SM; Ada's does not
            if (stages == 4) {
                gemm1Bm16X2 = module.function("fi_gemm1_" + q + "_bm16_s3x2");
                gemm1Bm16X2.setMaxDynamicSharedMemory(3 * stageBytes(16, 256));
            } else {
                gemm1Bm16X2 = null;
            }
            this.splitWaves = Integer.getInteger(SPLIT_WAVES_PROPERTY, LaunchPlan.DEFAULT_SPLIT_WAVES);
            if (splitWaves < 1) {
                throw new IllegalArgumentException(SPLIT_WAVES_PROPERTY + " must be at least 1, got " + splitWaves);
            }
            // sm_90a SASS runs on sm_90 only (not on later majors); moespec.flashinfer.wgmma=false forces mma.sync (A/B runs)
            this.wgmma = ctx.info().smMajor() == 9 && ctx.info().smMinor() == 0
                    && !"false".equalsIgnoreCase(System.getProperty(WGMMA_PROPERTY, "true"));
            if (wgmma) {
                gemm1Wg = module.function("fi_gemm1_" + q + "_wg");
                gemm1Wg.setMaxDynamicSharedMemory(WGMMA_SMEM_BYTES);
                gemm2Wg = module.function("fi_gemm2_" + q + "_wg");
                gemm2Wg.setMaxDynamicSharedMemory(WGMMA_SMEM_BYTES);
                gemm1Ws = module.function("fi_gemm1_" + q + "_ws");
                gemm1Ws.setMaxDynamicSharedMemory(wsSmemBytes(block));
                gemm2Ws = module.function("fi_gemm2_" + q + "_ws");
                gemm2Ws.setMaxDynamicSharedMemory(wsSmemBytes(block));
            } else {
                gemm1Wg = gemm2Wg = gemm1Ws = gemm2Ws = null;
            }
            this.ws = new Workspace(ctx, layer, LaunchPlan.partialRows(layer, multiprocessors, wgmma, splitWaves));
        }

        static Device open(MoeLayerSpec layer, int ordinal, ClassLoader loader) {
            CudaContext ctx = CudaContext.open(ordinal);
            try {
                CudaModule module = CudaModule.fromResource(ctx, loader, CudaModule.kernelResource(FlashInferTrtllmMoeBackendProvider.ARTIFACT_ID));
                return new Device(ctx, layer, module);
            } catch (RuntimeException e) {
                ctx.close();
                throw e;
            }
        }

        /** The wgmma kernels' dynamic shared memory: 6 stages of 33 KiB (A, B, scales) + 1 KiB to align to 1024. */
        static final int WGMMA_SMEM_BYTES = 6 * 33 * 1024 + 1024;

        /** Threads of a warp-specialised CTA: 2 consumer warpgroups + 1 producer warpgroup. */
        static final int WS_THREADS = 384;

        /**
         * The warp-specialised kernels' dynamic shared memory (moe_gemm_ws.cu's {@code Cfg}): 4 stages of A (16 KiB)
         * and B (32 KiB) tiles, + 1 KiB of scales per stage for block-128, + 1 KiB to align the base to 1024.
         */
        static int wsSmemBytes(boolean block) {
            return 4 * (48 + (block ? 1 : 0)) * 1024 + 1024;
        }

        /** B rows (= output columns of GEMM 2) per warp-specialised tile. */
        static final int WS_TILE_N = 256;

        /** Shared memory of one pipeline stage: A and B tiles of 128 bytes per row, BM activation scales, 2 weight scales. */
        static int stageBytes(int bm, int bn) {
            return bm * 128 + bn * 128 + bm * 4 + 16;
        }

        private CudaFunction gemm(CudaModule module, String name, int stage) {
            CudaFunction f = module.function(name);
            f.setMaxDynamicSharedMemory(stage * stages);
            return f;
        }

        void launchRoute(MoeLayerSpec layer, LaunchPlan plan, Tensor logits, long stream) {
            int m = plan.tokens(), e = layer.numExperts(), k = layer.topK();
            int mode = 0, renorm, groups = 1, topkGroups = 1;
            float scaling = 1f;
            switch (layer.routing()) {
                case Routing.SoftmaxTopK s -> renorm = s.renormalize() ? 1 : 0;
                case Routing.SigmoidGroupedTopK g -> {
                    mode = 1;
                    renorm = g.renormalize() ? 1 : 0;
                    groups = g.numGroups();
                    topkGroups = g.topKGroups();
                    scaling = g.routedScalingFactor();
                }
            }
            int warps = 4;
            routeTopk.launch(Dim3.of(LaunchPlan.ceilDiv(m, warps)), Dim3.of(32 * warps), warps * 4 * e * 4, stream,
                    KernelArgs.create().ptr(address(logits)).i32(logits.dtype() == DType.BF16 ? 1 : 0).i32(m).i32(e).i32(k)
                            .i32(mode).i32(renorm).i32(groups).i32(topkGroups).f32(scaling).ptr(ws.bias)
                            .ptr(ws.topkIds).ptr(ws.topkWeights));
            align.launch(Dim3.of(1), Dim3.of(1024), 3 * 4 * e, stream,
                    KernelArgs.create().ptr(ws.topkIds).i32(m * k).i32(e).i32(plan.bm())
                            .ptr(ws.sortedRows).ptr(ws.blockExpert).ptr(ws.meta));
        }

        void launchExperts(MoeLayerSpec layer, LaunchPlan plan, DeviceExpertWeights w, Tensor hidden, Tensor out,
                           boolean warpSpecialised, boolean decodeX2, long stream) {
            int m = plan.tokens(), h = layer.hiddenSize(), i = layer.intermediateSize(), k = layer.topK();
            long hiddenAddr = address(hidden);
            long mh = (long) m * h;
            if ((long) plan.splits() * m * k > ws.partialRows) { // checked before any launch: GEMM 2 would write past the workspace
                throw new IllegalStateException("GEMM 2 needs " + plan.splits() + " x " + m * k + " partial rows but the workspace holds "
                        + ws.partialRows + " (sized at load from maxTokens=" + layer.maxTokens() + "); this is a bug in LaunchPlan.partialRows");
            }
            // 1. activations to e4m3
            if (block) {
                quantHiddenBlock.launch(Dim3.gridFor((long) m * (h / 128), 8), Dim3.of(256), 0, stream,
                        KernelArgs.create().ptr(hiddenAddr).i32(m).i32(h).ptr(ws.hiddenQ).ptr(ws.hiddenScale));
            } else {
                int blocks = (int) Math.min(Workspace.AMAX_BLOCKS, LaunchPlan.ceilDiv(mh, 256));
                amaxPartial.launch(Dim3.of(blocks), Dim3.of(256), 0, stream,
                        KernelArgs.create().ptr(hiddenAddr).i64(mh).ptr(ws.amaxPartial));
                amaxFinalize.launch(Dim3.of(1), Dim3.of(256), 0, stream,
                        KernelArgs.create().ptr(ws.amaxPartial).i32(blocks).ptr(ws.hiddenScale.address()));
                quantTensorBf16.launch(Dim3.of(grid(mh)), Dim3.of(256), 0, stream,
                        KernelArgs.create().ptr(hiddenAddr).i64(mh).ptr(ws.hiddenScale.address()).ptr(ws.hiddenQ));
            }
            // 2. GEMM 1 + SwiGLU (+ block re-quantisation of the intermediate)
            int g1Grid = plan.maxBlocks() * plan.gemm1Tiles();
            CudaFunction g1 = switch (plan.bm()) {
                case 16 -> gemm1Bm16;
                case 64 -> gemm1Bm64;
                default -> gemm1Wg;
            };
            CudaFunction g2 = switch (plan.bm()) {
                case 16 -> gemm2Bm16;
                case 64 -> gemm2Bm64;
                default -> gemm2Wg;
            };
            boolean wg = plan.bm() == 128;
            boolean persistent = wg && warpSpecialised;
            int g1Threads = 256, g1Smem = wg ? WGMMA_SMEM_BYTES : stageBytes(plan.bm(), 256) * stages;
            if (plan.bm() == 16 && decodeX2) {
                g1 = gemm1Bm16X2;
                g1Smem = 3 * stageBytes(16, 256);
            }
            if (persistent) {
                // persistent: at most one CTA per SM walks the tiles (the real count is read on the device)
                g1 = gemm1Ws;
                g1Grid = Math.max(1, Math.min(g1Grid, multiprocessors));
                g1Threads = WS_THREADS;
                g1Smem = wsSmemBytes(block);
            }
            g1.launch(Dim3.of(g1Grid), Dim3.of(g1Threads), g1Smem, stream,
                    KernelArgs.create().ptr(ws.hiddenQ).ptr(ws.hiddenScale).ptr(w.w13()).ptr(w.w13Scale())
                            .ptr(ws.sortedRows).ptr(ws.blockExpert).ptr(ws.meta).i32(k).i32(h).i32(i)
                            .ptr(ws.inter).ptr(ws.interScale));
            long interScaleAddr = ws.hiddenScale.address() + 4;
            if (!block) {
                // 3. per-tensor: one scale over the whole [M*k, I] intermediate, then quantise it
                amaxFinalize.launch(Dim3.of(1), Dim3.of(256), 0, stream,
                        KernelArgs.create().ptr(ws.interScale).i32(g1Grid).ptr(interScaleAddr));
                long cap = (long) plan.maxBlocks() * plan.bm() * i;
                quantTensorF32.launch(Dim3.of(grid(cap)), Dim3.of(256), 0, stream,
                        KernelArgs.create().ptr(ws.inter).ptr(ws.meta).i32(i).ptr(interScaleAddr).ptr(ws.interQ));
            }
            // 4. GEMM 2: one fp32 partial row per (split, token, slot)
            Dim3 g2Grid = Dim3.of(plan.maxBlocks() * plan.gemm2Tiles(), plan.splits());
            int g2Threads = 256, g2Smem = wg ? WGMMA_SMEM_BYTES : stageBytes(plan.bm(), 128) * stages;
            if (persistent) {
                g2 = gemm2Ws;
                long tiles = (long) plan.maxBlocks() * LaunchPlan.ceilDiv(h, WS_TILE_N) * plan.splits();
                g2Grid = Dim3.of((int) Math.max(1, Math.min(tiles, multiprocessors)));
                g2Threads = WS_THREADS;
                g2Smem = wsSmemBytes(block);
            }
            g2.launch(g2Grid, Dim3.of(g2Threads), g2Smem, stream,
                    KernelArgs.create().ptr(ws.interQ).ptr(block ? ws.interScale.address() : interScaleAddr).ptr(w.w2()).ptr(w.w2Scale())
                            .ptr(ws.sortedRows).ptr(ws.blockExpert).ptr(ws.meta).i32(m * k).i32(i).i32(h)
                            .i32(plan.ktPerSplit()).ptr(ws.partial));
            // 5. finalize: out = sum over slots (in order) of router weight x sum over splits (in order), to bf16
            finalizeOut.launch(Dim3.of(grid(mh / 8)), Dim3.of(256), 0, stream,
                    KernelArgs.create().ptr(ws.partial).ptr(ws.topkWeights).i32(m).i32(k).i32(h).i32(plan.splits()).ptr(address(out)));
        }

        /** A grid-stride kernel's grid: enough blocks of 256 for n items, at most 8 waves of 132 SMs. */
        private int grid(long n) {
            return (int) Math.max(1, Math.min(LaunchPlan.ceilDiv(n, 256), 8L * Math.max(multiprocessors, 1)));
        }

        private static long address(Tensor t) {
            return t.data().address();
        }

        @Override
        public void close() {
            ctx.close();
        }
    }
}
