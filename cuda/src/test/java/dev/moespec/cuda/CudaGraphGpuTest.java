package dev.moespec.cuda;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import java.lang.foreign.MemorySegment;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Stream capture, instantiation and replay of the self-test kernels. */
@Tag("gpu")
class CudaGraphGpuTest {
    private static final int N = 100_003; // not a multiple of the block size

    private CudaContext ctx;
    private CudaModule module;
    private CudaStream stream;

    @BeforeEach
    void open() {
        Gpu.assumeGpu();
        ctx = CudaContext.open(0);
        module = Gpu.selftestModule(ctx);
        stream = CudaStream.create(ctx);
    }

    @AfterEach
    void close() {
        if (ctx != null) ctx.close();
    }

    private static float[] randomFloats(int n, long seed) {
        Random r = new Random(seed);
        float[] f = new float[n];
        for (int i = 0; i < n; i++) f[i] = r.nextFloat() * 2 - 1;
        return f;
    }

    private void axpy(float a, DeviceBuffer x, DeviceBuffer y) {
        module.function("moespec_selftest_axpy").launch(Dim3.gridFor(N, 256), Dim3.of(256), 0, stream,
                KernelArgs.create().f32(a).ptr(x).ptr(y).i32(N));
    }

    @Test
    void replaysCapturedLaunchesInOrder() {
        float[] x = randomFloats(N, 1);
        float[] y = randomFloats(N, 2);
        int replays = 7;
        try (DeviceBuffer dx = DeviceBuffer.alloc(ctx, 4L * N); DeviceBuffer dy = DeviceBuffer.alloc(ctx, 4L * N)) {
            dx.copyFrom(MemorySegment.ofArray(x));
            dy.copyFrom(MemorySegment.ofArray(y));
            // Three launches per replay (y += 0.5x, y += 0.25x, y -= 0.125x), each one FMA per element.
            try (CudaGraph graph = CudaGraph.capture(stream, () -> {
                axpy(0.5f, dx, dy);
                axpy(0.25f, dx, dy);
                axpy(-0.125f, dx, dy);
            })) {
                // Capturing runs nothing: y is unchanged until the first replay.
                float[] afterCapture = new float[N];
                dy.copyTo(MemorySegment.ofArray(afterCapture));
                for (int i = 0; i < N; i += 997) assertEquals(y[i], afterCapture[i], "element " + i + " after capture");

                for (int r = 0; r < replays; r++) graph.launch(stream);
                stream.synchronize();
            }
            float[] out = new float[N];
            dy.copyTo(MemorySegment.ofArray(out));
            for (int i = 0; i < N; i++) {
                float expected = y[i];
                for (int r = 0; r < replays; r++) {
                    expected = Math.fma(0.5f, x[i], expected);
                    expected = Math.fma(0.25f, x[i], expected);
                    expected = Math.fma(-0.125f, x[i], expected);
                }
                assertEquals(expected, out[i], 4 * Math.ulp(Math.abs(expected) + 1f), "element " + i);
            }
        }
    }

    @Test
    void synchronousCopyDuringCaptureFailsAndLeavesTheStreamUsable() {
        float[] x = randomFloats(N, 3);
        float[] y = randomFloats(N, 4);
        try (DeviceBuffer dx = DeviceBuffer.alloc(ctx, 4L * N); DeviceBuffer dy = DeviceBuffer.alloc(ctx, 4L * N)) {
            dx.copyFrom(MemorySegment.ofArray(x));
            dy.copyFrom(MemorySegment.ofArray(y));
            CudaException e = assertThrows(CudaException.class, () -> CudaGraph.capture(stream, () -> {
                axpy(1f, dx, dy);
                dy.copyFrom(MemorySegment.ofArray(y)); // synchronous: forbidden while capturing in global mode
            }));
            assertTrue(e.errorName().startsWith("CUDA_ERROR_STREAM_CAPTURE"), e.getMessage());
            assertTrue(e.getMessage().contains("during CUDA graph capture"), e.getMessage());

            // The capture is over and nothing it recorded ran: the stream takes ordinary work again.
            axpy(2f, dx, dy);
            stream.synchronize();
            float[] out = new float[N];
            dy.copyTo(MemorySegment.ofArray(out));
            for (int i = 0; i < N; i++) {
                float expected = Math.fma(2f, x[i], y[i]);
                assertEquals(expected, out[i], Math.ulp(expected) + 1e-7f, "element " + i);
            }
            // And it captures again.
            try (CudaGraph graph = CudaGraph.capture(stream, () -> axpy(1f, dx, dy))) {
                graph.launch(stream);
                stream.synchronize();
            }
        }
    }

    @Test
    void closingTheContextDestroysTheGraph() {
        try (DeviceBuffer dx = DeviceBuffer.alloc(ctx, 4L * N); DeviceBuffer dy = DeviceBuffer.alloc(ctx, 4L * N)) {
            dx.fill((byte) 0);
            dy.fill((byte) 0);
            CudaGraph graph = CudaGraph.capture(stream, () -> axpy(1f, dx, dy));
            ctx.close();
            assertTrue(graph.isClosed());
            assertThrows(IllegalStateException.class, () -> graph.launch(stream));
        }
    }

    @Test
    void theLedgerCountsEagerLaunchesAndEachReplayButNotTheCapture() {
        try (DeviceBuffer dx = DeviceBuffer.alloc(ctx, 4L * N); DeviceBuffer dy = DeviceBuffer.alloc(ctx, 4L * N)) {
            String image = module.image();
            LaunchCounts before = LaunchLedger.snapshot();
            try (LaunchLedger.Scope s = LaunchLedger.scope("ledger-test-eager")) {
                axpy(1f, dx, dy);
            }
            CudaGraph graph;
            try (LaunchLedger.Scope s = LaunchLedger.scope("ledger-test-graph")) {
                graph = CudaGraph.capture(stream, () -> {
                    axpy(1f, dx, dy);
                    axpy(2f, dx, dy);
                    axpy(3f, dx, dy);
                });
            }
            LaunchCounts captured = LaunchLedger.snapshot().since(before);
            assertEquals(1, captured.count("ledger-test-eager", image), captured.toString());
            assertEquals(0, captured.count("ledger-test-graph", image), "a capture runs nothing: " + captured);
            assertEquals(3, graph.launches().count("ledger-test-graph", image));
            // Replays are counted under the role of the capture, whatever scope the replaying thread is in.
            try (LaunchLedger.Scope s = LaunchLedger.scope("elsewhere")) {
                graph.launch(stream);
                graph.launch(stream);
            }
            stream.synchronize();
            LaunchCounts after = LaunchLedger.snapshot().since(before);
            assertEquals(6, after.count("ledger-test-graph", image), after.toString());
            assertEquals(0, after.total("elsewhere"), after.toString());
            graph.close();
        }
    }
}
