package dev.moespec.backend.triton;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class TritonPathTest {

    @Test
    void automaticChoiceSendsUpTo256TokensToTheSkinnyKernels() {
        assertEquals(TritonPath.SKINNY, TritonPath.choose(1, null));
        assertEquals(TritonPath.SKINNY, TritonPath.choose(TritonPath.SKINNY_MAX_TOKENS, null));
        assertEquals(TritonPath.GEMM, TritonPath.choose(TritonPath.SKINNY_MAX_TOKENS + 1, null));
    }

    @Test
    void forcedDecodeReproducesTheOldDispatch() {
        assertEquals(TritonPath.DECODE, TritonPath.choose(TritonMoeKernel.DECODE_MAX_TOKENS, TritonPath.DECODE));
        assertEquals(TritonPath.GEMM, TritonPath.choose(TritonMoeKernel.DECODE_MAX_TOKENS + 1, TritonPath.DECODE));
    }

    @Test
    void forcedSkinnyOrGemmServeAnyM() {
        assertEquals(TritonPath.SKINNY, TritonPath.choose(4096, TritonPath.SKINNY));
        assertEquals(TritonPath.GEMM, TritonPath.choose(1, TritonPath.GEMM));
    }

    @Test
    void systemPropertyNamesAPathOrIsRefusedWithTheChoices() {
        String old = System.getProperty(TritonPath.PROPERTY);
        try {
            System.clearProperty(TritonPath.PROPERTY);
            assertNull(TritonPath.fromSystemProperty());
            System.setProperty(TritonPath.PROPERTY, "Decode");
            assertEquals(TritonPath.DECODE, TritonPath.fromSystemProperty());
            System.setProperty(TritonPath.PROPERTY, "gemv");
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, TritonPath::fromSystemProperty);
            assertTrue(e.getMessage().contains("gemv") && e.getMessage().contains("skinny"), e.getMessage());
        } finally {
            if (old == null) System.clearProperty(TritonPath.PROPERTY);
            else System.setProperty(TritonPath.PROPERTY, old);
        }
    }
}
