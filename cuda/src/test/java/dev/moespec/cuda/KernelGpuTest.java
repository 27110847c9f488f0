package dev.moespec.cuda;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Random;

import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/** Launches the kernels of selftest.cu through the bindings. */
@Tag("gpu")
class KernelGpuTest {
    private static final int N = 1 << 20;

    private CudaContext ctx;
    private CudaModule module;

    @BeforeEach
    void open() {
        Gpu.assumeGpu();
        ctx = CudaContext.open(0);
        module = Gpu.selftestModule(ctx);
    }

    @AfterEach
    void close() {
        if (ctx != null) ctx.close(); // closes the module too
    }

    private static float[] randomFloats(int n, long seed) {
        Random r = new Random(seed);
        float[] f = new float[n];
        for (int i = 0; i < n; i++) f[i] = r.nextFloat() * 2 - 1;
        return f;
    }

    private static KernelArgs axpyArgs(float a, DeviceBuffer x, DeviceBuffer y, int n) {
        return KernelArgs.create().f32(a).ptr(x).ptr(y).i32(n);
    }

    @Test
    void axpyMatchesACpuLoop() {
        float a = 2.5f;
        float[] x = randomFloats(N, 10);
        float[] y = randomFloats(N, 11);
        try (DeviceBuffer dx = DeviceBuffer.alloc(ctx, 4L * N); DeviceBuffer dy = DeviceBuffer.alloc(ctx, 4L * N)) {
            dx.copyFrom(MemorySegment.ofArray(x));
            dy.copyFrom(MemorySegment.ofArray(y));
            module.function("moespec_selftest_axpy").launch(Dim3.gridFor(N, 256), Dim3.of(256), 0, null, axpyArgs(a, dx, dy, N));
            float[] out = new float[N];
            dy.copyTo(MemorySegment.ofArray(out));
            for (int i = 0; i < N; i++) {
                // nvcc contracts a*x+y to one FMA; allow the one rounding that separates it from a*x then +y.
                float expected = Math.fma(a, x[i], y[i]);
                assertEquals(expected, out[i], Math.ulp(expected) + 1e-7f, "element " + i);
            }
        }
    }

    @Test
    void fillWritesEveryElement() {
        int n = 1000;
        try (DeviceBuffer p = DeviceBuffer.alloc(ctx, 4L * n)) {
            p.fill((byte) 0);
            module.function("moespec_selftest_fill_i32").launch(Dim3.of(2), Dim3.of(128), 0, null,
                    KernelArgs.create().ptr(p).i32(-42).i32(n));
            int[] out = new int[n];
            p.copyTo(MemorySegment.ofArray(out));
            for (int v : out) assertEquals(-42, v);
        }
    }

    private int[] reverseChunks(int[] in, int chunk) {
        int n = in.length;
        try (DeviceBuffer din = DeviceBuffer.alloc(ctx, 4L * n); DeviceBuffer dout = DeviceBuffer.alloc(ctx, 4L * n)) {
            din.copyFrom(MemorySegment.ofArray(in));
            module.function("moespec_selftest_reverse_chunks").launch(Dim3.gridFor(n, chunk), Dim3.of(256), 4 * chunk, null,
                    KernelArgs.create().ptr(din).ptr(dout).i32(chunk).i32(n));
            int[] out = new int[n];
            dout.copyTo(MemorySegment.ofArray(out));
            return out;
        }
    }

    private static int[] expectedReverse(int[] in, int chunk) {
        int[] out = new int[in.length];
        for (int base = 0; base < in.length; base += chunk) {
            int len = Math.min(chunk, in.length - base);
            for (int i = 0; i < len; i++) out[base + i] = in[base + len - 1 - i];
        }
        return out;
    }

    @Test
    void dynamicSharedMemoryKernelReversesChunks() {
        int[] in = new Random(12).ints(10_000).toArray(); // 10000 = 19 full chunks of 512 and a partial one
        assertArrayEquals(expectedReverse(in, 512), reverseChunks(in, 512));
    }

    @Test
    void sharedMemoryAboveTheDefaultLimitNeedsTheOptIn() {
        int chunk = 24 * 1024; // 96 KiB of shared memory per block
        assumeTrue(4 * chunk <= ctx.limits().maxSharedMemoryPerBlockOptin(), "device opt-in shared memory is below 96 KiB");
        module.function("moespec_selftest_reverse_chunks").setMaxDynamicSharedMemory(4 * chunk);
        int[] in = new Random(13).ints(3 * chunk + 5).toArray();
        assertArrayEquals(expectedReverse(in, chunk), reverseChunks(in, chunk));
    }

    @Test
    void mixedWidthArgumentsArriveIntact() {
        try (DeviceBuffer out = DeviceBuffer.alloc(ctx, 4 * 8)) {
            long big = 0x1234_5678_9abc_def0L;
            module.function("moespec_selftest_echo_args").launch(Dim3.of(1), Dim3.of(32), 0, null,
                    KernelArgs.create().i32(-3).i64(big).f32(0.15625f).i32(77).ptr(out));
            long[] back = new long[4];
            out.copyTo(MemorySegment.ofArray(back));
            assertEquals(-3, back[0]);
            assertEquals(big, back[1]);
            assertEquals(Float.floatToRawIntBits(0.15625f), (int) back[2]);
            assertEquals(77, back[3]);
        }
    }

    @Test
    void eventsTimeAKernelOnAStream() {
        try (DeviceBuffer dx = DeviceBuffer.alloc(ctx, 4L * N); DeviceBuffer dy = DeviceBuffer.alloc(ctx, 4L * N);
             CudaStream stream = CudaStream.create(ctx);
             CudaEvent start = CudaEvent.create(ctx); CudaEvent end = CudaEvent.create(ctx)) {
            dx.fill((byte) 0);
            dy.fill((byte) 0);
            CudaFunction axpy = module.function("moespec_selftest_axpy");
            start.record(stream);
            for (int i = 0; i < 10; i++) axpy.launch(Dim3.gridFor(N, 256), Dim3.of(256), 0, stream, axpyArgs(1f, dx, dy, N));
            end.record(stream);
            float ms = CudaEvent.elapsedMillis(start, end);
            assertTrue(ms > 0 && ms < 10_000, "elapsed " + ms + " ms");
        }
    }

    @Test
    void copyKernelCopyOnOneStreamRunInOrder() {
        float[] x = randomFloats(N, 14);
        float[] y = randomFloats(N, 15);
        try (Arena arena = Arena.ofConfined();
             DeviceBuffer dx = DeviceBuffer.alloc(ctx, 4L * N); DeviceBuffer dy = DeviceBuffer.alloc(ctx, 4L * N);
             CudaStream stream = CudaStream.create(ctx)) {
            MemorySegment hx = arena.allocate(JAVA_FLOAT, N).copyFrom(MemorySegment.ofArray(x));
            MemorySegment hy = arena.allocate(JAVA_FLOAT, N).copyFrom(MemorySegment.ofArray(y));
            MemorySegment result = arena.allocate(JAVA_FLOAT, N);
            dx.copyFromAsync(hx, stream);
            dy.copyFromAsync(hy, stream);
            module.function("moespec_selftest_axpy").launch(Dim3.of(132), Dim3.of(512), 0, stream, axpyArgs(-1.5f, dx, dy, N));
            dy.copyToAsync(result, stream);
            stream.synchronize();
            for (int i = 0; i < N; i += 997) {
                float expected = Math.fma(-1.5f, x[i], y[i]);
                assertEquals(expected, result.getAtIndex(JAVA_FLOAT, i), Math.ulp(expected) + 1e-7f, "element " + i);
            }
        }
    }

    @Test
    void tooManyThreadsPerBlockIsInvalidValueAndTheContextStaysUsable() {
        CudaFunction fill = module.function("moespec_selftest_fill_i32");
        try (DeviceBuffer p = DeviceBuffer.alloc(ctx, 4 * 4096)) {
            KernelArgs args = KernelArgs.create().ptr(p).i32(9).i32(4096);
            var e = assertThrows(CudaException.class, () -> fill.launch(Dim3.of(1), Dim3.of(4096), 0, null, args));
            assertEquals("CUDA_ERROR_INVALID_VALUE", e.errorName());
            assertEquals("cuLaunchKernel", e.function());
            assertTrue(e.getMessage().contains("launching moespec_selftest_fill_i32 with grid (1, 1, 1), block (4096, 1, 1)"),
                    e.getMessage());
            assertTrue(e.getMessage().endsWith("; the block has 4096 threads, this device allows at most 1024)"), e.getMessage());

            fill.launch(Dim3.of(4), Dim3.of(1024), 0, null, args);
            ctx.synchronize();
            MemorySegment back = MemorySegment.ofArray(new int[4096]);
            p.copyTo(back);
            for (int i = 0; i < 4096; i++) assertEquals(9, back.getAtIndex(JAVA_INT, i));
        }
    }

    @Test
    void unknownKernelNameIsNamedInTheError() {
        var e = assertThrows(CudaException.class, () -> module.function("moespec_selftest_no_such_kernel"));
        assertEquals("cuModuleGetFunction", e.function());
        assertEquals("CUDA_ERROR_NOT_FOUND", e.errorName());
        assertTrue(e.getMessage().endsWith("(no kernel named \"moespec_selftest_no_such_kernel\" in"
                + " META-INF/moespec/kernels/moespec-cuda.fatbin; kernels are found by their extern \"C\" name)"), e.getMessage());
        assertSame(module.function("moespec_selftest_axpy"), module.function("moespec_selftest_axpy"));
    }

    @Test
    void functionsOfAClosedModuleRefuseToLaunch() {
        CudaFunction fill = module.function("moespec_selftest_fill_i32");
        module.close();
        var e = assertThrows(IllegalStateException.class,
                () -> fill.launch(Dim3.of(1), Dim3.of(1), 0, null, KernelArgs.create().ptr(0).i32(0).i32(0)));
        assertEquals("CUDA module META-INF/moespec/kernels/moespec-cuda.fatbin on " + ctx.describe() + " is closed", e.getMessage());
    }

    @Test
    void inMemoryImageLoadsToo() {
        byte[] image = CudaModule.readImage(getClass().getClassLoader(), CudaModule.kernelResource(Gpu.ARTIFACT));
        try (CudaModule copy = CudaModule.load(ctx, image); DeviceBuffer out = DeviceBuffer.alloc(ctx, 8)) {
            assertEquals("in-memory kernel image of " + image.length + " bytes", copy.source());
            copy.function("moespec_selftest_fill_i32").launch(Dim3.of(1), Dim3.of(2), 0, null, KernelArgs.create().ptr(out).i32(5).i32(2));
            long[] back = new long[1];
            out.copyTo(MemorySegment.ofArray(back));
            assertEquals(5L | (5L << 32), back[0]);
        }
    }
}
