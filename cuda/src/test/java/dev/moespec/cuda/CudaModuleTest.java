package dev.moespec.cuda;

import org.junit.jupiter.api.Test;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The parts of kernel loading that need no GPU: where fatbins live and how their absence is reported. */
class CudaModuleTest {
    private static final ClassLoader LOADER = CudaModuleTest.class.getClassLoader();

    @Test
    void kernelResourceFollowsTheBuildLayout() {
        assertEquals("META-INF/moespec/kernels/moespec-backend-triton.fatbin", CudaModule.kernelResource("moespec-backend-triton"));
    }

    @Test
    void ownFatbinIsBuiltIntoTheJarAndUnknownArtifactsHaveNone() {
        // This machine has nvcc, so the cuda-kernels profile built selftest.cu into target/classes.
        assertTrue(CudaModule.hasKernels(LOADER, "moespec-cuda"));
        assertFalse(CudaModule.hasKernels(LOADER, "moespec-no-such-plugin"));
    }

    @Test
    void ownFatbinIsAFatbinImage() {
        byte[] image = CudaModule.readImage(LOADER, CudaModule.kernelResource("moespec-cuda"));
        assertTrue(image.length > 16, "fatbin has content");
        int magic = ByteBuffer.wrap(image).order(ByteOrder.LITTLE_ENDIAN).getInt(0);
        assertEquals(0xBA55ED50, magic, "fatbin magic number");
    }

    @Test
    void missingImageSaysTheBuildHadNoNvcc() {
        String resource = CudaModule.kernelResource("moespec-no-such-plugin");
        var e = assertThrows(IllegalStateException.class, () -> CudaModule.readImage(LOADER, resource));
        assertEquals("kernel image META-INF/moespec/kernels/moespec-no-such-plugin.fatbin is not on the classpath: the jar that"
                + " should carry it was built without nvcc (a CPU-only build). Rebuild it with the CUDA toolkit installed, or pass"
                + " -Dmoespec.nvcc=/path/to/nvcc", e.getMessage());
    }
}
