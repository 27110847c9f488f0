package dev.moespec.engine.cuda;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Which heads the fused small-batch kernels of {@code head_linear.cu} take (the rest run on cuBLAS), and the host's
 * reading of the argmax keys those kernels leave (CPU only; the kernels themselves are checked on the GPU by
 * {@code GpuDrafterNetworksTest}).
 */
class HeadLinearShapesTest {
    @Test
    void theDemoHeadsFitAndWideOnesFallBackToCublas() {
        assertTrue(DecoderKernels.headLinearFits(256, 32, 8, 512), "the demo EAGLE head");
        assertTrue(DecoderKernels.headLinearFits(256, 32, 8, 0), "the demo MTP layer (no dense MLP)");
        // a 4096-wide head's staged rows need 9 x 4096 x 4 bytes of shared memory and more: over 48 KiB
        assertFalse(DecoderKernels.headLinearFits(4096, 128, 32, 14336), "a Llama-size EAGLE head");
        assertFalse(DecoderKernels.headLinearFits(260, 52, 5, 512), "hidden not a multiple of 8");
        assertFalse(DecoderKernels.headLinearFits(256, 32, 8, 2000), "an intermediate past 48 KiB of rows");
        assertTrue(DecoderKernels.normRouterFits(256));
        assertTrue(DecoderKernels.normRouterFits(1024));
        assertFalse(DecoderKernels.normRouterFits(2048), "9 rows of 2048 fp32 exceed 48 KiB");
        assertFalse(DecoderKernels.normRouterFits(250));
    }

    @Test
    void argmaxKeysDecodeToTheIdTheyHold() {
        assertEquals(0, DecoderKernels.argmaxId(0), "an empty slot (an all-NaN row) reads as token 0, as Argmax.of");
        for (int id : new int[] {0, 1, 319, 151_935}) {
            // hl_argmax_key: the ordered logit bits above, 0xffffffff - id below (so the lower id wins a tie)
            long key = (long) (Float.floatToRawIntBits(1.5f) | 0x80000000) << 32 | (0xffffffffL - id);
            assertEquals(id, DecoderKernels.argmaxId(key));
        }
    }
}
