package dev.moespec.backend.triton;

import dev.moespec.api.config.QuantScheme;
import dev.moespec.moe.MoeLayerSpec;
import dev.moespec.moe.Routing;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The skinny path's per-call plan: token tile from the expected tokens per expert, GEMM 2's K splits from the CTA count. */
class SkinnyPlanTest {

    private static final int H100_SMS = 132, H100_SMEM = 227 * 1024, SM89_SMEM = 99 * 1024;

    private static MoeLayerSpec layer(int e, int k, int h, int i, int maxTokens) {
        return new MoeLayerSpec(e, k, h, i, MoeLayerSpec.Activation.SILU, new Routing.SoftmaxTopK(true), QuantScheme.BF16, maxTokens);
    }

    @Test
    void qwen3DecodeTakesTheSmallestTileAndSplitsGemm2ToFillTheSms() {
        // 8 experts x ceil(2048 / 64) = 256 GEMM 2 CTAs: two splits give about two CTAs per SM
        SkinnyPlan p = SkinnyPlan.of(layer(128, 8, 2048, 768, 4096), 1, H100_SMS, 768 * 2, H100_SMEM);
        assertEquals(new SkinnyPlan(16, 2), p);
    }

    @Test
    void mixtralDecodeSplitsItsFewGemm2CtasThreeWays() {
        // 2 experts x 64 row slices = 128 CTAs over 112 K stages of w2
        SkinnyPlan p = SkinnyPlan.of(layer(8, 2, 4096, 14336, 4096), 1, H100_SMS, 14336 * 2, H100_SMEM);
        assertEquals(new SkinnyPlan(16, 3), p);
    }

    @Test
    void manyTokensPerExpertTakeTheWidestTileThatFitsSharedMemory() {
        MoeLayerSpec mixtral = layer(8, 2, 4096, 14336, 4096);
        assertEquals(64, SkinnyPlan.of(mixtral, 256, H100_SMS, 14336 * 2, H100_SMEM).tokenTile());
        assertTrue(SkinnyPlan.smemBytes(64) > SM89_SMEM, "the 64-token tile must be the one that does not fit 99 KiB");
        assertEquals(32, SkinnyPlan.of(mixtral, 256, H100_SMS, 14336 * 2, SM89_SMEM).tokenTile());
        assertEquals(32, SkinnyPlan.of(layer(128, 8, 2048, 768, 4096), 256, H100_SMS, 768 * 2, H100_SMEM).tokenTile());
    }

    @ParameterizedTest
    @ValueSource(ints = {1, 2, 4, 16, 64, 256})
    void splitsNeverOutgrowThePartialBufferNorTheKStages(int m) {
        MoeLayerSpec tight = layer(8, 2, 4096, 14336, m);
        assertEquals(1, SkinnyPlan.of(tight, m, H100_SMS, 14336 * 2, H100_SMEM).gemm2Splits(),
                "with maxTokens = M the fp32 partial holds one copy of the call's rows");
        SkinnyPlan shortK = SkinnyPlan.of(layer(64, 6, 2048, 96, 4096), m, H100_SMS, 96 * 2, H100_SMEM);
        assertEquals(1, shortK.gemm2Splits(), "a 192-byte w2 row is one K stage, so it cannot be split");
        SkinnyPlan any = SkinnyPlan.of(layer(8, 2, 1024, 2816, 4096), m, H100_SMS, 2816 * 2, H100_SMEM);
        assertTrue(any.gemm2Splits() <= SkinnyPlan.MAX_SPLITS && (long) any.gemm2Splits() * m <= 4096, any::toString);
    }

    @Test
    void refusesTilesTheKernelsDoNotHave() {
        assertThrows(IllegalArgumentException.class, () -> new SkinnyPlan(8, 1));
        assertThrows(IllegalArgumentException.class, () -> new SkinnyPlan(16, 0));
        assertEquals("_n2", new SkinnyPlan(16, 1).kernelSuffix());
        assertEquals("_n8", new SkinnyPlan(64, 1).kernelSuffix());
    }

    @Test
    void wideTilesHandOverToTheTileGemms() {
        assertTrue(new SkinnyPlan(32, 1).beatsTileGemm(false));
        assertFalse(new SkinnyPlan(64, 1).beatsTileGemm(false));
        assertTrue(new SkinnyPlan(16, 1).beatsTileGemm(true));
        assertFalse(new SkinnyPlan(32, 1).beatsTileGemm(true), "block-128 layers keep the skinny kernels to 16-token tiles");
    }
}
