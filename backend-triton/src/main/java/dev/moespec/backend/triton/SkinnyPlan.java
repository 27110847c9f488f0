package dev.moespec.backend.triton;

import dev.moespec.moe.MoeLayerSpec;

/**
 * How one call of M tokens runs on the skinny kernels ({@code moe_skinny.cu}).
 *
 * @param tokenTile   the rows moe_align pads every expert to, which is the kernels' MMA N side: 16, 32 or 64, the
 *                    smallest that holds the tokens an expert is expected to get with some room, so that an expert's
 *                    weights are streamed by one tile (the weights are what costs; MMA work is free at this size)
 * @param gemm2Splits over how many K ranges GEMM 2 runs: enough CTAs for about two per SM even when few experts are hit
 *                    (each split writes its own fp32 partial, moe_reduce_topk adds them with the top-k slots)
 */
record SkinnyPlan(int tokenTile, int gemm2Splits) {

    /** Weight rows per CTA (GEMM 1: 32 gate and 32 up rows), bytes of K per stage, stages: as moe_skinny.cu. */
    static final int CTA_ROWS = 64, STAGE_K_BYTES = 256, STAGES = 4, THREADS = 128;
    static final int[] TOKEN_TILES = {16, 32, 64};
    static final int MAX_SPLITS = 8;

    SkinnyPlan {
        if (tokenTile != 16 && tokenTile != 32 && tokenTile != 64) {
            throw new IllegalArgumentException("skinny token tile must be 16, 32 or 64, got " + tokenTile);
        }
        if (gemm2Splits < 1) throw new IllegalArgumentException("GEMM 2 needs at least one K split, got " + gemm2Splits);
    }

    /**
     * @param sms          the device's SM count
     * @param gemm2KBytes  bytes of one w2 row (the intermediate size, padded, in the GEMM element type)
     * @param maxSmem      the most dynamic shared memory a block may opt into (sm_89: 99 KiB, so no 64-token tile)
     */
    static SkinnyPlan of(MoeLayerSpec layer, int m, int sms, int gemm2KBytes, int maxSmem) {
        int e = layer.numExperts(), k = layer.topK();
        // expected hit experts under uniform routing, E * (1 - (1 - k/E)^M), at least 1
        double hit = Math.max(1, Math.min(Math.min(e, (long) m * k), e * (1 - Math.pow(1 - (double) k / e, m))));
        double perExpert = (double) m * k / hit;
        int tile = perExpert <= 10 ? 16 : perExpert <= 21 ? 32 : 64;
        while (tile > TOKEN_TILES[0] && smemBytes(tile) > maxSmem) tile /= 2;
        double ctas = hit * Math.ceil(perExpert / tile) * Math.ceil(layer.hiddenSize() / (double) CTA_ROWS);
        int kTiles = Math.max(1, (gemm2KBytes + STAGE_K_BYTES - 1) / STAGE_K_BYTES);
        int splits = (int) Math.ceil(2.0 * Math.max(1, sms) / ctas);
        // the fp32 partial holds maxTokens * top-k rows; a split needs its own copy of this call's rows
        splits = Math.max(1, Math.min(Math.min(splits, MAX_SPLITS), Math.min(kTiles, layer.maxTokens() / Math.max(1, m))));
        return new SkinnyPlan(tile, splits);
    }

    /**
     * Whether this plan streams the weights faster than the tile-64 grouped GEMMs. Measured on the H100 (bench moe,
     * 2026-11-27): up to 32-token tiles it does (mixtral M=64 bf16 956 vs 1495 µs, qwen3 M=256 452 vs 629 µs); with
     * 64-token tiles the 4-warp CTA's MMA and ldmatrix work shows (mixtral M=256 bf16 2012 vs 1712 µs, fp8 2319 vs 1160);
     * block-128 layers, whose scales are applied per 128-wide K group inside the loop, win with 16-token tiles only.
     */
    boolean beatsTileGemm(boolean block128) {
        return tokenTile <= (block128 ? 16 : 32);
    }

    /** The kernel-name suffix of the token tile: {@code _n2}, {@code _n4} or {@code _n8} (n8 tiles per CTA). */
    String kernelSuffix() {
        return "_n" + tokenTile / 8;
    }

    /** Dynamic shared memory of a launch: the stages of 64 weight rows and {@code tokenTile} token rows. */
    int smemBytes() {
        return smemBytes(tokenTile);
    }

    static int smemBytes(int tokenTile) {
        return STAGES * (CTA_ROWS + tokenTile) * STAGE_K_BYTES;
    }
}
