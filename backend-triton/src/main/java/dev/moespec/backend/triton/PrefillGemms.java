package dev.moespec.backend.triton;

import dev.moespec.cuda.CudaFunction;
import dev.moespec.cuda.CudaModule;
import dev.moespec.cuda.Dim3;
import dev.moespec.cuda.KernelArgs;
import dev.moespec.moe.MoeLayerSpec;

import java.util.Locale;

/**
 * The grouped GEMMs of the prefill path (M above the decode cut-off): GEMM 1 + SwiGLU and GEMM 2 x router weight over
 * moe_align's 64-row expert blocks, either as the sm_90a warpgroup-MMA kernels ({@code moe_wg_gemm*_}, 128-row tiles,
 * moe_gemm_wgmma.cu) or as the mma.sync kernels every sm_80+ device runs ({@code moe_gemm*_}, 64-row tiles,
 * moe_gemm.cu). Both read and write the same buffers, so the choice is per call.
 *
 * <p>The system property {@value #PROPERTY} ({@code auto}, {@code wgmma}, {@code mma}) overrides the choice for A/B runs
 * and tests; {@code wgmma} on a device that is not sm_90 is refused when the kernel is created.
 */
final class PrefillGemms {

    /** Picks the prefill kernels: {@code auto} (default), {@code wgmma} (every prefill call) or {@code mma}. */
    static final String PROPERTY = "moespec.triton.prefill";
    /**
     * {@code auto} takes the wgmma kernels on sm_90 from this many tokens. Measured on the H100 (module README,
     * "Status"): at M = 256 wgmma already beats mma.sync on every anchor shape and dtype (1.2-1.7x), even for
     * qwen3-30b-a3b where 256 tokens give each of 128 experts only 16 rows; below 256 the rows belong to the
     * memory-bound kernels.
     */
    static final int WGMMA_MIN_TOKENS = 256;

    private static final int MMA_THREADS = 128, MMA_SMEM = 3 * (64 + 128) * 64;
    private static final int WG_THREADS = 256;

    /** Which kernels a prefill call runs. */
    enum Path {
        /** wgmma on sm_90 from {@link #WGMMA_MIN_TOKENS} tokens, mma.sync otherwise. */
        AUTO,
        /** wgmma for every prefill call (sm_90 only). */
        WGMMA,
        /** mma.sync for every prefill call. */
        MMA;

        static Path fromSystemProperty() {
            String v = System.getProperty(PROPERTY, "auto").trim().toLowerCase(Locale.ROOT);
            return switch (v) {
                case "auto" -> AUTO;
                case "wgmma" -> WGMMA;
                case "mma" -> MMA;
                default -> throw new IllegalArgumentException("-D" + PROPERTY + "=" + v + " is not a prefill path; use auto, wgmma or mma");
            };
        }
    }

    private final CudaModule module;
    private final MoeLayerSpec layer;
    private final String suffix;
    private final boolean wgmmaDevice;
    private final Path path;
    /** N tile of the wgmma kernels: 256 rows of B, 128 with block-128 scales (staged per B row). */
    private final int wgBn;

    PrefillGemms(CudaModule module, MoeLayerSpec layer, TritonNumerics numerics, int sm, Path path) {
        this.module = module;
        this.layer = layer;
        this.suffix = numerics.suffix();
        this.path = path;
        // sm_90a SASS runs on sm_90 only, not on later majors
        this.wgmmaDevice = sm == 90;
        if (path == Path.WGMMA && !wgmmaDevice) {
            throw new IllegalArgumentException("-D" + PROPERTY + "=wgmma needs an sm_90 device (the wgmma kernels are sm_90a), got sm_"
                    + sm + "; use auto or mma");
        }
        boolean block = numerics.scaleMode() == TritonNumerics.BLOCK_128;
        this.wgBn = block ? 128 : 256;
        if (wgmmaDevice && path != Path.MMA) {
            int smem = wgSmem();
            module.function("moe_wg_gemm1_" + suffix).setMaxDynamicSharedMemory(smem);
            module.function("moe_wg_gemm2_" + suffix).setMaxDynamicSharedMemory(smem);
        }
    }

    /** Whether a prefill call of {@code m} tokens runs the wgmma kernels. */
    boolean wgmma(int m) {
        return switch (path) {
            case WGMMA -> true;
            case MMA -> false;
            case AUTO -> autoWgmma(layer, wgmmaDevice ? 90 : 0, m);
        };
    }

    /** The {@code auto} rule: an sm_90 device and at least {@link #WGMMA_MIN_TOKENS} tokens. */
    static boolean autoWgmma(MoeLayerSpec layer, int sm, int m) {
        return sm == 90 && m >= WGMMA_MIN_TOKENS;
    }

    /** Dynamic shared memory of the wgmma kernels ({@code moespec_wg::Cfg<BN, BLOCK>::kSmem}). */
    private int wgSmem() {
        int stage = 128 * 128 + wgBn * 128 + (wgBn == 128 ? 1024 : 0);
        int stages = Math.min(6, 220 * 1024 / stage);
        return stages * stage + 1024;
    }

    /** GEMM 1 + SwiGLU: {@code inter[a, n]} for every aligned row (arguments as {@code moe_gemm1_*}). */
    void gemm1(int m, long x, long xRowBytes, long w13, int kBytes, int interSize, int topK, long mTiles, TritonWorkspace ws,
               int scaleMode, long xScale, int perRow, long wScale, long inter, int interCode, long interAmax, long stream) {
        boolean wg = wgmma(m);
        int cols = wg ? wgBn / 2 : 64;
        KernelArgs args = KernelArgs.create().ptr(x).i64(xRowBytes).ptr(w13).i32(kBytes).i32(interSize).i32(topK)
                .i32(Math.toIntExact(mTiles)).ptr(ws.sortedRows).ptr(ws.blockExpert);
        if (wg) args.ptr(ws.paddedOffsets);
        args.ptr(ws.meta).i32(scaleMode).ptr(xScale).i32(perRow).ptr(wScale).ptr(inter).i32(interCode).ptr(interAmax).i32(perRow);
        launch(wg, "gemm1", Math.toIntExact(mTiles * ceil(interSize, cols)), args, stream);
    }

    /** GEMM 2 x router weight: {@code partial[a, h]} (arguments as {@code moe_gemm2_*}). */
    void gemm2(int m, long inter, long interRowBytes, long w2, int kBytes, int hiddenSize, long mTiles, TritonWorkspace ws,
               int scaleMode, long interScale, int perRow, long wScale, long stream) {
        boolean wg = wgmma(m);
        int cols = wg ? wgBn : 128;
        KernelArgs args = KernelArgs.create().ptr(inter).i64(interRowBytes).ptr(w2).i32(kBytes).i32(hiddenSize)
                .i32(Math.toIntExact(mTiles)).ptr(ws.sortedRows).ptr(ws.blockExpert);
        if (wg) args.ptr(ws.paddedOffsets);
        args.ptr(ws.meta).i32(scaleMode).ptr(interScale).i32(perRow).ptr(wScale).ptr(ws.topkWeights).ptr(ws.partial);
        launch(wg, "gemm2", Math.toIntExact(mTiles * ceil(hiddenSize, cols)), args, stream);
    }

    private void launch(boolean wg, String gemm, int grid, KernelArgs args, long stream) {
        CudaFunction f = module.function(wg ? "moe_wg_" + gemm + "_" + suffix : "moe_" + gemm + "_" + suffix);
        f.launch(Dim3.of(grid), Dim3.of(wg ? WG_THREADS : MMA_THREADS), wg ? wgSmem() : MMA_SMEM, stream, args);
    }

    private static long ceil(long n, long d) {
        return (n + d - 1) / d;
    }
}
