package dev.moespec.backend.triton;

import dev.moespec.api.config.ModelRole;
import dev.moespec.api.config.QuantScheme;
import dev.moespec.api.device.DeviceInfo;
import dev.moespec.api.tensor.DType;
import dev.moespec.api.tensor.HostTensors;
import dev.moespec.api.tensor.Tensor;
import dev.moespec.cuda.Cuda;
import dev.moespec.cuda.CudaContext;
import dev.moespec.cuda.CudaGraph;
import dev.moespec.cuda.CudaStream;
import dev.moespec.cuda.DeviceBuffer;
import dev.moespec.moe.Eligibility;
import dev.moespec.moe.KernelContext;
import dev.moespec.moe.MoeLayerSpec;
import dev.moespec.moe.MoeTensorChecks;
import dev.moespec.moe.MoeWeights;
import dev.moespec.moe.Routing;
import dev.moespec.moe.conformance.MoeBackendConformanceKit;
import dev.moespec.moe.reference.CpuReferenceKernel;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.TestFactory;

import java.lang.foreign.Arena;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Random;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The memory-bound path forced on ({@link TritonPath#SKINNY}) for every quantization, on e4m3 and on the fp16-held FP8
 * operands, at M in {1, 4, 16, 64, 256}, checked against the CPU reference with the conformance kit's tolerance. The
 * layer has sizes off every tile (H = 264, I = 456: neither a multiple of the 64-row CTA nor of the 256-byte K stage,
 * I not of the 128-wide scale block) and skewed routing, so that experts get no token at every M; M = 1..64 also run
 * GEMM 2 split over K. A second factory replays the forward from a CUDA graph and expects the eager result bit for bit.
 */
@Tag("gpu")
class TritonSmallMPathGpuTest {

    private static final int[] TOKENS = {1, 4, 16, 64, 256};
    private static final int E = 16, TOP_K = 4, H = 264, I = 456, MAX_TOKENS = 256;

    @TestFactory
    Stream<DynamicTest> skinnyPathMatchesTheCpuReference() {
        List<DynamicTest> tests = new ArrayList<>();
        for (QuantScheme q : QuantScheme.values()) {
            for (boolean fp16Fp8 : q.isFp8() ? new boolean[]{false, true} : new boolean[]{false}) {
                for (int m : TOKENS) {
                    String name = String.format(Locale.ROOT, "%s%s M=%d", q.cliName(), fp16Fp8 ? " (fp16 operands)" : "", m);
                    tests.add(DynamicTest.dynamicTest(name, () -> checkAgainstReference(q, fp16Fp8, m)));
                }
            }
        }
        return tests.stream();
    }

    @TestFactory
    Stream<DynamicTest> graphReplayGivesTheEagerResult() {
        return Stream.of(QuantScheme.BF16, QuantScheme.FP8_PER_TENSOR, QuantScheme.FP8_BLOCK_128).flatMap(q ->
                Stream.of(1, 16).map(m -> DynamicTest.dynamicTest(q.cliName() + " M=" + m, () -> checkGraphReplay(q, m))));
    }

    private static void checkAgainstReference(QuantScheme q, boolean fp16Fp8, int m) throws Exception {
        MoeLayerSpec layer = layer(q);
        TritonMoeBackendProvider provider = provider(fp16Fp8);
        DeviceInfo device = device(provider, layer);
        try (Arena arena = Arena.ofConfined();
             TritonMoeKernel kernel = (TritonMoeKernel) provider.create(layer, new KernelContext(ModelRole.TARGET, device, false));
             CpuReferenceKernel reference = new CpuReferenceKernel(layer)) {
            Random random = new Random(31L * q.ordinal() + m);
            MoeWeights w = MoeBackendConformanceKit.randomWeights(arena, layer, random);
            kernel.loadWeights(w);
            kernel.forcePath(TritonPath.SKINNY);
            reference.loadWeights(w);
            DType act = MoeTensorChecks.activationDType(q);
            Tensor hidden = hidden(arena, act, m, random), logits = logits(arena, m, random);
            Tensor out = HostTensors.allocate(arena, act, m, H), expected = HostTensors.allocate(arena, act, m, H);
            MoeBackendConformanceKit.poison(out);
            new DeviceHarness().forward(kernel, hidden, logits, out);
            reference.forward(hidden, logits, expected, 0);
            double error = MoeBackendConformanceKit.relativeError(out, expected), tolerance = MoeBackendConformanceKit.tolerance(q);
            assertTrue(error <= tolerance, () -> String.format(Locale.ROOT, "skinny path: relative Frobenius error %.3e exceeds %.0e for %s, M=%d",
                    error, tolerance, layer.describe(), m));
        }
    }

    private static void checkGraphReplay(QuantScheme q, int m) throws Exception {
        MoeLayerSpec layer = layer(q);
        TritonMoeBackendProvider provider = provider(false);
        DeviceInfo device = device(provider, layer);
        DType act = MoeTensorChecks.activationDType(q);
        try (Arena arena = Arena.ofConfined();
             TritonMoeKernel kernel = (TritonMoeKernel) provider.create(layer, new KernelContext(ModelRole.TARGET, device, false));
             CudaContext ctx = CudaContext.open(device.ordinal());
             CudaStream stream = CudaStream.create(ctx)) {
            Random random = new Random(7L * q.ordinal() + m);
            kernel.loadWeights(MoeBackendConformanceKit.randomWeights(arena, layer, random));
            kernel.forcePath(TritonPath.SKINNY);
            try (DeviceBuffer h = DeviceHarness.upload(ctx, hidden(arena, act, m, random));
                 DeviceBuffer l = DeviceHarness.upload(ctx, logits(arena, m, random));
                 DeviceBuffer o = DeviceBuffer.alloc(ctx, 2L * m * H)) {
                Tensor hd = h.asTensor(act, m, H), ld = l.asTensor(DType.F32, m, E), od = o.asTensor(act, m, H);
                Runnable forward = () -> kernel.forward(hd, ld, od, stream.handle());
                forward.run();
                stream.synchronize();
                short[] eager = download(o, m);
                o.fill((byte) 0xFF);
                try (CudaGraph graph = CudaGraph.capture(stream, forward)) {
                    graph.launch(stream);
                    stream.synchronize();
                }
                assertArrayEquals(eager, download(o, m), "graph replay of the skinny path differs from the eager forward");
            }
        }
    }

    private static MoeLayerSpec layer(QuantScheme q) {
        return new MoeLayerSpec(E, TOP_K, H, I, MoeLayerSpec.Activation.SILU, new Routing.SoftmaxTopK(true), q, MAX_TOKENS);
    }

    private static TritonMoeBackendProvider provider(boolean fp16Fp8) {
        return new TritonMoeBackendProvider(TritonMoeBackendProvider.class.getClassLoader(), fp16Fp8);
    }

    private static DeviceInfo device(TritonMoeBackendProvider provider, MoeLayerSpec layer) {
        DeviceInfo device = Cuda.detectDevice();
        Eligibility verdict = provider.check(layer, device);
        Assumptions.assumeTrue(verdict.isEligible(), () -> "triton cannot run here: " + verdict);
        return device;
    }

    private static short[] download(DeviceBuffer o, int m) {
        try (Arena arena = Arena.ofConfined()) {
            var host = arena.allocate(2L * m * H, 16);
            o.copyTo(host);
            return host.toArray(java.lang.foreign.ValueLayout.JAVA_SHORT);
        }
    }

    /** Gaussian rows with an outlier every 37 columns, so that per-row and per-group activation scales differ. */
    private static Tensor hidden(Arena arena, DType act, int m, Random random) {
        float[] x = new float[m * H];
        for (int n = 0; n < x.length; n++) x[n] = (float) (random.nextGaussian() * (n % 37 == (n / H) % 37 ? 8 : 1));
        return HostTensors.fromFloats(arena, act, x, m, H);
    }

    /** Skewed logits (experts 8.. pushed down, so most get no token), redrawn until the top-k is clear of ties. */
    private static Tensor logits(Arena arena, int m, Random random) {
        float[] l = new float[m * E];
        for (int t = 0; t < m; t++) {
            float[] row = new float[E];
            do {
                for (int x = 0; x < E; x++) row[x] = (float) (random.nextGaussian() * 1.5) - (x >= 8 ? 4f : 0f);
            } while (topKMargin(row) < 1e-3);
            System.arraycopy(row, 0, l, t * E, E);
        }
        return HostTensors.fromFloats(arena, DType.F32, l, m, E);
    }

    private static double topKMargin(float[] row) {
        float[] s = row.clone();
        Arrays.sort(s);
        return s[E - TOP_K] - s[E - TOP_K - 1];
    }
}
