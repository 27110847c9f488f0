package dev.moespec.cuda;

import dev.moespec.api.tensor.HostTensors;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** {@link Cublas#gemm} against an fp64 host product of the same (bf16-rounded) inputs, fresh random data per call. */
@Tag("gpu")
class CublasGpuTest {
    private CudaContext ctx;
    private CudaStream stream;
    private Cublas blas;

    @BeforeEach
    void open() {
        Gpu.assumeGpu();
        org.junit.jupiter.api.Assumptions.assumeTrue(Cublas.available() instanceof CublasAvailability.Available,
                () -> "cuBLAS unavailable: " + Cublas.available());
        ctx = CudaContext.open(0);
        stream = CudaStream.create(ctx);
        blas = Cublas.create(ctx, stream);
        System.out.println("cuBLAS: " + Cublas.available());
    }

    @AfterEach
    void close() {
        if (blas != null) blas.close();
        if (ctx != null) ctx.close();
    }

    private static float[] random(int n, long seed) {
        Random r = new Random(seed);
        float[] f = new float[n];
        for (int i = 0; i < n; i++) f[i] = (float) r.nextGaussian();
        return f;
    }

    private static MemorySegment encode(Arena a, float[] v, Cublas.Type t) {
        MemorySegment s = a.allocate((long) v.length * t.bytes(), 16);
        for (int i = 0; i < v.length; i++) {
            if (t == Cublas.Type.F32) s.setAtIndex(ValueLayout.JAVA_FLOAT, i, v[i]);
            else {
                short bits = HostTensors.floatToBf16(v[i]);
                s.setAtIndex(ValueLayout.JAVA_SHORT, i, bits);
                v[i] = HostTensors.bf16ToFloat(bits); // the reference uses the rounded inputs
            }
        }
        return s;
    }

    private double relError(int m, int n, int k, Cublas.Type in, boolean accumulate) {
        float[] a = random(m * k, m * 31L + k), b = random(n * k, n * 17L + k + 1), c0 = random(m * n, 99);
        try (Arena arena = Arena.ofConfined();
             DeviceBuffer da = DeviceBuffer.alloc(ctx, (long) a.length * in.bytes());
             DeviceBuffer db = DeviceBuffer.alloc(ctx, (long) b.length * in.bytes());
             DeviceBuffer dc = DeviceBuffer.alloc(ctx, 4L * m * n)) {
            da.copyFrom(encode(arena, a, in));
            db.copyFrom(encode(arena, b, in));
            MemorySegment c = arena.allocate(4L * m * n, 16);
            for (int i = 0; i < m * n; i++) c.setAtIndex(ValueLayout.JAVA_FLOAT, i, accumulate ? c0[i] : Float.NaN); // poison
            dc.copyFrom(c);
            blas.gemm(da.address(), in, db.address(), in, dc.address(), Cublas.Type.F32, m, n, k, accumulate);
            stream.synchronize();
            dc.copyTo(c);
            double num = 0, den = 0;
            for (int i = 0; i < m; i++) {
                for (int j = 0; j < n; j++) {
                    double ref = accumulate ? c0[i * n + j] : 0;
                    for (int x = 0; x < k; x++) ref += (double) a[i * k + x] * b[j * k + x];
                    double got = c.getAtIndex(ValueLayout.JAVA_FLOAT, (long) i * n + j);
                    assertTrue(Double.isFinite(got), "C[" + i + "," + j + "] not written or not finite: " + got);
                    num += (got - ref) * (got - ref);
                    den += ref * ref;
                }
            }
            return Math.sqrt(num / den);
        }
    }

    @Test
    void bf16GemmWithFp32AccumulationMatchesReference() {
        // decode-like (M=1), odd shapes, and the demo's QKV shape at batch 64
        for (int[] s : new int[][]{{1, 384, 256}, {7, 320, 256}, {64, 384, 256}, {33, 16, 200}}) {
            double err = relError(s[0], s[1], s[2], Cublas.Type.BF16, false);
            System.out.printf("bf16 gemm m=%d n=%d k=%d rel err %.2e%n", s[0], s[1], s[2], err);
            assertTrue(err < 1e-5, "relative error " + err + " (inputs are exact bf16, accumulation fp32)");
        }
    }

    @Test
    void accumulateAddsIntoC() {
        double err = relError(5, 256, 256, Cublas.Type.BF16, true);
        assertTrue(err < 1e-5, "relative error " + err);
    }

    @Test
    void fp32GemmMatchesReference() {
        double err = relError(9, 16, 256, Cublas.Type.F32, false);
        assertTrue(err < 1e-5, "relative error " + err);
    }

    @Test
    void refusedCallNamesTheStatus() {
        try (DeviceBuffer d = DeviceBuffer.alloc(ctx, 4096)) {
            // fp32 inputs with a bf16 output is not a CUBLAS_COMPUTE_32F combination
            CublasException e = assertThrows(CublasException.class, () -> blas.gemm(d.address(), Cublas.Type.F32, d.address(),
                    Cublas.Type.F32, d.address(), Cublas.Type.BF16, 4, 4, 4, false));
            assertTrue(e.statusName().startsWith("CUBLAS_STATUS_") && !e.statusName().endsWith("SUCCESS"), e.getMessage());
            assertTrue(e.getMessage().contains("cublasGemmEx") && e.getMessage().contains("C[4, 4]"), e.getMessage());
        }
    }

    @Test
    void gemmCanBeCapturedIntoAGraph() {
        int m = 3, n = 64, k = 128;
        float[] a = random(m * k, 5), b = random(n * k, 6);
        try (Arena arena = Arena.ofConfined();
             DeviceBuffer da = DeviceBuffer.alloc(ctx, 2L * a.length);
             DeviceBuffer db = DeviceBuffer.alloc(ctx, 2L * b.length);
             DeviceBuffer dc = DeviceBuffer.alloc(ctx, 4L * m * n)) {
            da.copyFrom(encode(arena, a, Cublas.Type.BF16));
            db.copyFrom(encode(arena, b, Cublas.Type.BF16));
            dc.fill((byte) 0);
            try (CudaGraph g = CudaGraph.capture(stream, () -> blas.gemm(da.address(), Cublas.Type.BF16, db.address(),
                    Cublas.Type.BF16, dc.address(), Cublas.Type.F32, m, n, k, true))) {
                for (int i = 0; i < 3; i++) g.launch(stream);
                stream.synchronize();
            }
            MemorySegment c = arena.allocate(4L * m * n);
            dc.copyTo(c);
            double ref = 0;
            for (int x = 0; x < k; x++) ref += (double) a[x] * b[x];
            assertEquals(3 * ref, c.getAtIndex(ValueLayout.JAVA_FLOAT, 0), 1e-3 * Math.max(1, Math.abs(ref)));
        }
    }
}
