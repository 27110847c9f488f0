package dev.moespec.engine.cuda;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Validation of GPU sampling rows, and the runner's answer where it cannot run. */
class RowSamplingTest {

    @Test
    void badValuesAreRefusedWithTheRange() {
        assertTrue(assertThrows(IllegalArgumentException.class, () -> new RowSampling(-1, 0, 1, 0)).getMessage().contains("temperature"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> new RowSampling(1, 0, 0, 0)).getMessage().contains("(0, 1]"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> new RowSampling(1, -2, 1, 0)).getMessage().contains("top_k"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> new RowSampling(1, 0, 1, 1.0)).getMessage().contains("[0, 1)"));
    }

    @Test
    void unavailableReasonIsASentenceWhereThereIsNoGpu() {
        if (dev.moespec.cuda.Cuda.available() instanceof dev.moespec.cuda.CudaAvailability.Available) return; // the GPU tests cover it
        String why = CudaRunners.unavailableReason().orElseThrow();
        assertTrue(!why.isBlank(), why);
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> CudaRunners.open(null, 0, 1));
        assertTrue(e.getMessage().startsWith("the CUDA forward pass cannot run here: "), e.getMessage());
    }
}
