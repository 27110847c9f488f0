package dev.moespec.engine.bench;

import dev.moespec.api.device.DeviceInfo;
import dev.moespec.api.tensor.Tensor;
import dev.moespec.cuda.Cuda;
import dev.moespec.cuda.CudaAvailability;
import dev.moespec.cuda.CudaContext;
import dev.moespec.cuda.CudaFunction;
import dev.moespec.cuda.CudaModule;
import dev.moespec.cuda.DeviceBuffer;
import dev.moespec.cuda.Dim3;
import dev.moespec.cuda.KernelArgs;
import dev.moespec.moe.Eligibility;
import dev.moespec.moe.KernelContext;
import dev.moespec.moe.MoeBackendProvider;
import dev.moespec.moe.MoeKernel;
import dev.moespec.moe.MoeLayerSpec;
import dev.moespec.moe.MoeWeights;
import dev.moespec.moe.StagedMoeKernel;
import dev.moespec.moe.reference.CpuReferenceBackendProvider;
import dev.moespec.moe.registry.MoeBackendRegistry;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The device timing path of the harness on a real GPU, with a staged test kernel made of the cuda module's
 * self-test kernels: route = a fill of a routing workspace; experts = a fill of {@code out} plus an axpy over
 * two 64 MiB buffers (192 MiB of HBM traffic), whose time has a floor the measurement must respect.
 */
@Tag("gpu")
class DeviceBenchGpuTest {
    private static final int STREAM_FLOATS = 16 << 20; // 64 MiB per buffer

    @Test
    void stagedGpuKernelIsTimedWithEventsAndGraphs() {
        Assumptions.assumeTrue(Cuda.available() instanceof CudaAvailability.Available, "no usable CUDA GPU");
        DeviceInfo device = Cuda.detectDevice();
        MoeBackendRegistry registry = MoeBackendRegistry.of(List.of(new CpuReferenceBackendProvider(), new SelftestProvider(true),
                new SelftestProvider(false)), List.of(), Set.of());
        for (boolean staged : new boolean[]{true, false}) {
            for (boolean graphs : new boolean[]{true, false}) {
                MoeBench.Config config = new MoeBench.Config(staged ? "selftest_gpu" : "selftest_gpu_whole", List.of(BenchShape.TINY),
                        List.of(BenchDtype.BF16), List.of(1, 64), 20, graphs, 7);
                List<String> progress = new ArrayList<>();
                BenchReport report = MoeBench.run(config, registry, device, PeerAnchors.none(), progress::add);
                BenchTable.print(report, new PrintWriter(System.out, true));
                assertTrue(report.l2FlushBytes() >= 2L * 50 * 1024 * 1024 || report.l2FlushBytes() >= 64L << 20, "flush " + report.l2FlushBytes());
                for (BenchRow row : report.rows()) {
                    BenchRow.Measured m = assertInstanceOf(BenchRow.Measured.class, row, row.toString());
                    assertEquals(staged, m.staged());
                    assertEquals(graphs ? "graph" : "eager", m.main().mode());
                    assertEquals(20, m.main().reps());
                    assertEquals(staged, m.align().isPresent());
                    if (staged) assertTrue(m.align().orElseThrow().medianUs() > 0);
                    // 3 x 64 MiB through HBM cannot take less than at 3.35 TB/s, nor (with the L2 flushed) 10x longer
                    double floorUs = 3.0 * 4 * STREAM_FLOATS / 3.35e12 * 1e6;
                    assertTrue(m.main().medianUs() > 0.9 * floorUs && m.main().medianUs() < 10 * floorUs,
                            "experts stage " + m.main().medianUs() + " us, floor " + floorUs);
                    // every output element was written (the fill), so the error is a number, not NaN; above M=16 it is skipped
                    if (m.tokens() <= ReferenceCheck.MAX_TOKENS) {
                        assertTrue(m.error().isPresent() && !Double.isNaN(m.error().getAsDouble()), m.errorNote());
                    } else {
                        assertEquals("n/a: M > 16", m.errorNote());
                    }
                }
            }
        }
    }

    /** GPU-only test backend over the self-test kernels of moespec-cuda; staged, or the same work as one forward. */
    record SelftestProvider(boolean staged) implements MoeBackendProvider {
        @Override
        public String name() {
            return staged ? "selftest_gpu" : "selftest_gpu_whole";
        }

        @Override
        public Eligibility check(MoeLayerSpec layer, DeviceInfo device) {
            return device.isCuda() ? Eligibility.eligible() : Eligibility.rejected(Eligibility.Reason.NO_DEVICE, "GPU only");
        }

        @Override
        public MoeKernel create(MoeLayerSpec layer, KernelContext context) {
            SelftestKernel k = new SelftestKernel(layer);
            return staged ? k : new Whole(k);
        }
    }

    /** Not a StagedMoeKernel: the harness times its forward whole. */
    record Whole(SelftestKernel k) implements MoeKernel {
        @Override
        public String backend() {
            return "selftest_gpu_whole";
        }

        @Override
        public MoeLayerSpec layer() {
            return k.layer();
        }

        @Override
        public void loadWeights(MoeWeights weights) {
            k.loadWeights(weights);
        }

        @Override
        public void forward(Tensor hidden, Tensor routerLogits, Tensor out, long stream) {
            k.forward(hidden, routerLogits, out, stream);
        }

        @Override
        public void close() {
            k.close();
        }
    }

    static final class SelftestKernel implements StagedMoeKernel {
        private final MoeLayerSpec layer;
        private final CudaContext ctx = CudaContext.open(0);
        private final CudaFunction fill;
        private final CudaFunction axpy;
        private final DeviceBuffer routing;
        private final DeviceBuffer x;
        private final DeviceBuffer y;

        SelftestKernel(MoeLayerSpec layer) {
            this.layer = layer;
            CudaModule module = CudaModule.fromResource(ctx, CudaModule.class.getClassLoader(), CudaModule.kernelResource("moespec-cuda"));
            fill = module.function("moespec_selftest_fill_i32");
            axpy = module.function("moespec_selftest_axpy");
            routing = DeviceBuffer.alloc(ctx, 4L * layer.maxTokens() * layer.numExperts());
            x = DeviceBuffer.alloc(ctx, 4L * STREAM_FLOATS);
            y = DeviceBuffer.alloc(ctx, 4L * STREAM_FLOATS);
        }

        @Override
        public String backend() {
            return "selftest_gpu";
        }

        @Override
        public MoeLayerSpec layer() {
            return layer;
        }

        @Override
        public void loadWeights(MoeWeights weights) {
            x.fill((byte) 0x3C); // small finite floats
            y.fill((byte) 0x3C);
        }

        @Override
        public void route(Tensor routerLogits, long stream) {
            int n = (int) routerLogits.elementCount();
            if (n == 0) return;
            fill.launch(Dim3.gridFor(n, 256), Dim3.of(256), 0, stream, KernelArgs.create().ptr(routing).i32(n).i32(n));
        }

        @Override
        public void experts(Tensor hidden, Tensor out, long stream) {
            int pairs = (int) (out.elementCount() / 2);
            // two bf16 1.0 per int: every output element is written
            fill.launch(Dim3.gridFor(pairs, 256), Dim3.of(256), 0, stream,
                    KernelArgs.create().ptr(out.data().address()).i32(0x3F803F80).i32(pairs));
            axpy.launch(Dim3.of(132 * 8), Dim3.of(256), 0, stream, KernelArgs.create().f32(1e-3f).ptr(x).ptr(y).i32(STREAM_FLOATS));
        }

        @Override
        public void close() {
            ctx.close();
        }
    }
}
