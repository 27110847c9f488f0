package dev.moespec.backend.flashinfer;

import dev.moespec.api.config.QuantScheme;
import dev.moespec.moe.MoeLayerSpec;
import dev.moespec.moe.Routing;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The host-side launch shapes: tile height by rows per expert and device, capacities, split-K. */
class LaunchPlanTest {

    private static MoeLayerSpec qwen3(int maxTokens) {
        return new MoeLayerSpec(128, 8, 2048, 768, MoeLayerSpec.Activation.SILU, new Routing.SoftmaxTopK(true),
                QuantScheme.FP8_BLOCK_128, maxTokens);
    }

    @Test
    void tileHeightFollowsRowsPerExpertAndTheDevice() {
        MoeLayerSpec layer = qwen3(4096);
        // decode: at most 32 rows per expert on average -> 16-row weight-streaming tiles, wgmma or not
        assertEquals(16, LaunchPlan.of(layer, 512, 132, true).bm());
        assertEquals(16, LaunchPlan.of(layer, 512, 132, false).bm());
        // between 32 and 64 rows per expert: 64-row mma.sync tiles
        assertEquals(64, LaunchPlan.of(layer, 768, 132, true).bm());
        // from 64 rows per expert: 128-row wgmma tiles on sm_90, 64-row mma.sync tiles elsewhere
        assertEquals(128, LaunchPlan.of(layer, 1024, 132, true).bm());
        assertEquals(64, LaunchPlan.of(layer, 1024, 132, false).bm());
        assertEquals(128, LaunchPlan.of(layer, 4096, 132, true).bm());
    }

    @Test
    void forcedTileRowsWin_and128NeedsWgmma() {
        MoeLayerSpec layer = qwen3(4096);
        assertEquals(128, LaunchPlan.of(layer, 1, 132, true, 128).bm());
        assertEquals(16, LaunchPlan.of(layer, 4096, 132, true, 16).bm());
        var e = assertThrows(IllegalArgumentException.class, () -> LaunchPlan.of(layer, 4096, 132, false, 128));
        assertTrue(e.getMessage().contains("sm_90"), e.getMessage());
    }

    @Test
    void capacityHoldsTheWorstPaddingOf128RowTiles() {
        MoeLayerSpec layer = qwen3(4096);
        long rows = 4096L * 8;
        long cap = LaunchPlan.rowCapacity(layer);
        // every expert may leave up to 127 padding rows in its last 128-row block
        assertTrue(cap >= rows + 128L * 127, "capacity " + cap);
        assertEquals(0, cap % 128);
        // the grid is an upper bound (CTAs past the real block count exit); the per-CTA amax partials of the
        // per-tensor GEMM 1 are sized from blockCapacity, so every tile height's grid must fit it
        for (int bm : new int[]{16, 64, 128}) {
            LaunchPlan p = LaunchPlan.of(layer, 4096, 132, true, bm);
            assertTrue(p.maxBlocks() <= LaunchPlan.blockCapacity(layer), "bm " + bm + ": " + p);
        }
    }

    @Test
    void splitKOnlyWhenTilesCannotFillTheGpu() {
        MoeLayerSpec layer = qwen3(4096);
        LaunchPlan decode = LaunchPlan.of(layer, 1, 132, true);
        assertTrue(decode.splits() > 1, "M=1: 8 blocks x 16 column tiles need split-K, got " + decode);
        // the splits cover I / 128 = 6 K tiles, none of them empty
        assertTrue(decode.splits() * decode.ktPerSplit() >= 6 && (decode.splits() - 1) * decode.ktPerSplit() < 6, decode.toString());
        LaunchPlan prefill = LaunchPlan.of(layer, 4096, 132, true);
        assertEquals(1, prefill.splits());
    }

    @Test
    void partialWorkspaceHoldsEverySplitOfEveryM() {
        MoeLayerSpec layer = qwen3(300);
        for (int waves : new int[]{1, 2, 4}) {
            for (boolean wgmma : new boolean[]{true, false}) {
                long rows = LaunchPlan.partialRows(layer, 132, wgmma, waves);
                // splits == 1 at maxTokens: at least one partial row per (token, slot)
                assertTrue(rows >= 300L * 8, "waves " + waves + ": " + rows);
                for (int m = 1; m <= 300; m++) {
                    for (int bm : wgmma ? new int[]{0, 16, 64, 128} : new int[]{0, 16, 64}) {
                        LaunchPlan p = LaunchPlan.of(layer, m, 132, wgmma, bm, waves);
                        assertTrue((long) p.splits() * m * 8 <= rows, "M=" + m + " bm=" + bm + " waves=" + waves + ": " + p + " > " + rows);
                    }
                }
            }
        }
    }

    @Test
    void moreSplitWavesSplitSmallMFurther_neverBelowTwoKTilesASplit() {
        MoeLayerSpec mixtral = new MoeLayerSpec(8, 2, 4096, 14336, MoeLayerSpec.Activation.SILU, new Routing.SoftmaxTopK(true),
                QuantScheme.FP8_BLOCK_128, 256);
        LaunchPlan two = LaunchPlan.of(mixtral, 1, 132, true, 0, 2);
        LaunchPlan four = LaunchPlan.of(mixtral, 1, 132, true, 0, 4);
        assertTrue(four.splits() > two.splits(), two + " vs " + four);
        assertTrue(four.ktPerSplit() >= 2, four.toString());
        assertThrows(IllegalArgumentException.class, () -> LaunchPlan.of(mixtral, 1, 132, true, 0, 0));
    }
}
