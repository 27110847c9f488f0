package dev.moespec.cuda;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;

class CudaExceptionTest {

    @Test
    void messageNamesFunctionCodeNameAndDescription() {
        var e = new CudaException("cuMemAlloc_v2", 2, "CUDA_ERROR_OUT_OF_MEMORY", "out of memory", "");
        assertEquals("cuMemAlloc_v2 failed: CUDA_ERROR_OUT_OF_MEMORY (2): out of memory", e.getMessage());
        assertEquals("cuMemAlloc_v2", e.function());
        assertEquals(2, e.code());
        assertEquals("CUDA_ERROR_OUT_OF_MEMORY", e.errorName());
        assertEquals("out of memory", e.description());
        assertEquals("", e.detail());
    }

    @Test
    void nullDetailMeansNone() {
        var e = new CudaException("cuCtxSynchronize", 700, "CUDA_ERROR_ILLEGAL_ADDRESS", "an illegal memory access was encountered", null);
        assertEquals("cuCtxSynchronize failed: CUDA_ERROR_ILLEGAL_ADDRESS (700): an illegal memory access was encountered", e.getMessage());
        assertEquals("", e.detail());
    }

    @Test
    void withDetailAppendsWhatWasBeingDoneAndKeepsTheCause() {
        var raw = new CudaException("cuLaunchKernel", 1, "CUDA_ERROR_INVALID_VALUE", "invalid argument", "");
        var first = raw.withDetail("launching k with block (4096, 1, 1)");
        var second = first.withDetail("layer 3");
        assertEquals("cuLaunchKernel failed: CUDA_ERROR_INVALID_VALUE (1): invalid argument (launching k with block (4096, 1, 1))",
                first.getMessage());
        assertEquals("cuLaunchKernel failed: CUDA_ERROR_INVALID_VALUE (1): invalid argument"
                + " (launching k with block (4096, 1, 1); layer 3)", second.getMessage());
        assertSame(raw, first.getCause());
        assertEquals(1, second.code());
        assertEquals("CUDA_ERROR_INVALID_VALUE", second.errorName());
        assertEquals("cuLaunchKernel", second.function());
    }
}
