package dev.moespec.cuda;

import dev.moespec.cuda.internal.CublasLibrary;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** cuBLAS loading and error naming without a GPU. */
class CublasTest {

    @Test
    void statusCodesHaveCublasNames() {
        assertEquals("CUBLAS_STATUS_NOT_SUPPORTED", CublasLibrary.knownStatusName(15).orElseThrow());
        assertEquals("CUBLAS_STATUS_INVALID_VALUE", CublasLibrary.knownStatusName(7).orElseThrow());
        assertTrue(CublasLibrary.knownStatusName(12345).isEmpty());
    }

    @Test
    void exceptionMessageNamesFunctionStatusAndShapes() {
        CublasException e = new CublasException("cublasGemmEx", 7, "CUBLAS_STATUS_INVALID_VALUE", "C[4, 320] = A[4, 256] · B[320, 256]ᵀ");
        assertEquals("cublasGemmEx failed: CUBLAS_STATUS_INVALID_VALUE (7) (C[4, 320] = A[4, 256] · B[320, 256]ᵀ)", e.getMessage());
        assertEquals(7, e.status());
        assertEquals("CUBLAS_STATUS_INVALID_VALUE", e.statusName());
    }

    @Test
    void availabilityIsAnswerNotAThrow() {
        switch (Cublas.available()) {
            case CublasAvailability.Available a -> assertTrue(a.library().contains("cublas"), a.library());
            case CublasAvailability.Unavailable u -> {
                assertTrue(u.reason().contains("libcublas not found") || u.reason().contains("has no symbol"), u.reason());
                assertTrue(u.reason().contains("MOESPEC_CUBLAS") || u.reason().contains("cuBLAS 11"), u.reason());
            }
        }
    }

    @Test
    void creatingWithoutCudaSaysWhy() {
        if (Cuda.available() instanceof CudaAvailability.Available) return; // covered by CublasGpuTest there
        IllegalStateException e = org.junit.jupiter.api.Assertions.assertThrows(IllegalStateException.class, () -> CudaContext.open(0));
        assertFalse(e.getMessage().isBlank());
    }
}
