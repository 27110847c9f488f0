package dev.moespec.backend.flashinfer;

import dev.moespec.moe.MoeLayerSpec;

/**
 * The launch shapes of one forward call with M tokens, computed on the host from M alone (no device read-back):
 * grids are sized for the most BM-row blocks the alignment can produce, and CTAs past the real count exit at once.
 *
 * @param tokens      M
 * @param bm          GEMM tile height: 16 for decode-like calls (few rows per expert: weight streaming); on sm_90,
 *                    128 (the wgmma kernels) once experts average {@value #WGMMA_ROWS_PER_EXPERT} rows; else 64
 * @param maxBlocks   an upper bound on the BM-row blocks: {@code ceil(M*k / bm) + min(E, M*k)}
 * @param gemm1Tiles  CTAs of GEMM 1 per block row: {@code ceil(I / 128)} (128 intermediate columns each)
 * @param gemm2Tiles  CTAs of GEMM 2 per block row: {@code ceil(H / 128)}
 * @param splits      split-K factor of GEMM 2: each split writes its own fp32 partial rows, which
 *                    {@code fi_finalize_out} sums in split order (deterministic; a function of M alone)
 * @param ktPerSplit  K tiles of 128 per split
 */
record LaunchPlan(int tokens, int bm, int maxBlocks, int gemm1Tiles, int gemm2Tiles, int splits, int ktPerSplit) {

    /** Rows per expert (on average) up to which the 16-row tiles are used. */
    static final int SMALL_TILE_ROWS_PER_EXPERT = 32;

    /**
     * Rows per expert (on average) from which the 128-row wgmma tiles are used where the device has them: at half
     * full tiles the wgmma path still does the useful work faster than 64-row mma.sync tiles do (round 1 measured
     * 150-255 TFLOP/s on mma.sync; wgmma's ceiling is about 4x that).
     */
    static final int WGMMA_ROWS_PER_EXPERT = 64;

    /** GEMM 2 CTAs aimed at, in waves of the GPU, before split-K stops (the default of {@link #of}). */
    static final int DEFAULT_SPLIT_WAVES = 2;

    static LaunchPlan of(MoeLayerSpec layer, int tokens, int multiprocessors, boolean wgmma) {
        return of(layer, tokens, multiprocessors, wgmma, 0);
    }

    static LaunchPlan of(MoeLayerSpec layer, int tokens, int multiprocessors, boolean wgmma, int forcedBm) {
        return of(layer, tokens, multiprocessors, wgmma, forcedBm, DEFAULT_SPLIT_WAVES);
    }

    /**
     * @param wgmma    the device runs the sm_90a wgmma kernels (tile height 128)
     * @param forcedBm   16, 64 or (with wgmma) 128 to override the choice (tuning), 0 for the heuristic
     * @param splitWaves GEMM 2 split-K aims at {@code splitWaves x multiprocessors} CTAs (at least 1)
     */
    static LaunchPlan of(MoeLayerSpec layer, int tokens, int multiprocessors, boolean wgmma, int forcedBm, int splitWaves) {
        if (splitWaves < 1) throw new IllegalArgumentException("splitWaves must be at least 1, got " + splitWaves);
        if (forcedBm == 128 && !wgmma) {
            throw new IllegalArgumentException("tile rows 128 need the wgmma kernels, i.e. an sm_90 device; use 16 or 64 here");
        }
        long rows = (long) tokens * layer.topK();
        long e = layer.numExperts();
        int bm = forcedBm != 0 ? forcedBm
                : rows <= SMALL_TILE_ROWS_PER_EXPERT * e ? 16
                : wgmma && rows >= WGMMA_ROWS_PER_EXPERT * e ? 128 : 64;
        int maxBlocks = Math.toIntExact(ceilDiv(rows, bm) + Math.min(layer.numExperts(), rows));
        int g1 = ceilDiv(layer.intermediateSize(), 128);
        int g2 = ceilDiv(layer.hiddenSize(), 128);
        int kTiles = ceilDiv(layer.intermediateSize(), 128);
        // enough CTAs for splitWaves waves of the GPU, but at least two K tiles per split
        long ctas = (long) Math.max(maxBlocks, 1) * g2;
        int splits = (int) Math.max(1, Math.min(ceilDiv((long) splitWaves * Math.max(multiprocessors, 1), ctas), kTiles / 2));
        int perSplit = ceilDiv(kTiles, splits);
        splits = ceilDiv(kTiles, perSplit);
        return new LaunchPlan(tokens, bm, maxBlocks, g1, g2, splits, perSplit);
    }

    /** The tallest tile: the wgmma kernels' 128 rows. */
    static final int MAX_BM = 128;

    /** Padded-row capacity the workspace needs for any M up to {@code maxTokens} and any tile height. */
    static long rowCapacity(MoeLayerSpec layer) {
        long rows = (long) layer.maxTokens() * layer.topK();
        return ceilDiv(rows + (long) layer.numExperts() * (MAX_BM - 1), MAX_BM) * MAX_BM;
    }

    /** The most BM-row blocks any call can make (16-row tiles, maxTokens). */
    static int blockCapacity(MoeLayerSpec layer) {
        return Math.toIntExact(rowCapacity(layer) / 16);
    }

    /**
     * Rows of GEMM 2's partial workspace ({@code [splits][M*k][H]}) that every call up to {@code maxTokens} fits in,
     * with any tile height this device may run (the split factor depends on it through the block count): the most
     * {@code splits x M x k} over M = 1..maxTokens. Computed once at load, so that forward allocates nothing.
     */
    static long partialRows(MoeLayerSpec layer, int multiprocessors, boolean wgmma, int splitWaves) {
        int[] heights = wgmma ? new int[]{0, 16, 64, 128} : new int[]{0, 16, 64};
        long most = 0;
        for (int m = 1; m <= layer.maxTokens(); m++) {
            for (int bm : heights) {
                LaunchPlan p = of(layer, m, multiprocessors, wgmma, bm, splitWaves);
                most = Math.max(most, (long) p.splits() * m * layer.topK());
            }
        }
        return most;
    }

    static int ceilDiv(int a, int b) {
        return (a + b - 1) / b;
    }

    static long ceilDiv(long a, long b) {
        return (a + b - 1) / b;
    }
}
