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
import static org.junit.jupiter.api.Assertions.fail;

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
            MoeWeights w = weights(arena, layer, random);
            kernel.loadWeights(w);
            kernel.forcePath(TritonPath.SKINNY);
            reference.loadWeights(w);
            DType act = MoeTensorChecks.activationDType(q);
            Tensor hidden = hidden(arena, act, m, random), logits = logits(arena, m, random);
            Tensor out = HostTensors.allocate(arena, act, m, H), expected = HostTensors.allocate(arena, act, m, H);
            for (long n = 0; n < out.elementCount(); n++) HostTensors.set(out, n, Float.NaN);
            new DeviceHarness().forward(kernel, hidden, logits, out);
            reference.forward(hidden, logits, expected, 0);
            double diff = 0, norm = 0;
            for (long n = 0; n < out.elementCount(); n++) {
                float v = HostTensors.get(out, n), r = HostTensors.get(expected, n);
                if (Float.isNaN(v)) fail("out[" + n / H + ", " + n % H + "] was not written (still the NaN poison)");
                diff += (double) (v - r) * (v - r);
                norm += (double) r * r;
            }
            double error = Math.sqrt(diff / norm), tolerance = MoeBackendConformanceKit.tolerance(q);
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
            kernel.loadWeights(weights(arena, layer, random));
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

    /** Gaussian weights (std 1/sqrt(fan-in)); FP8 quantised as a checkpoint is: scale = amax / 448 per scale group. */
    private static MoeWeights weights(Arena arena, MoeLayerSpec layer, Random random) {
        float[] w13 = gaussian(random, E * 2 * I * H, H), w2 = gaussian(random, E * H * I, I);
        if (!layer.quant().isFp8()) {
            DType dtype = MoeTensorChecks.activationDType(layer.quant());
            return MoeWeights.unquantized(HostTensors.fromFloats(arena, dtype, w13, E, 2L * I, H), HostTensors.fromFloats(arena, dtype, w2, E, H, I));
        }
        Tensor[] q13 = fp8(arena, layer.quant(), w13, 2 * I, H), q2 = fp8(arena, layer.quant(), w2, H, I);
        return MoeWeights.fp8(q13[0], q2[0], q13[1], q2[1]);
    }

    private static Tensor[] fp8(Arena arena, QuantScheme q, float[] w, int rows, int cols) {
        int rb = (rows + 127) / 128, cb = (cols + 127) / 128;
        long[] shape = switch (q) {
            case FP8_PER_TENSOR -> new long[]{E};
            case FP8_PER_CHANNEL -> new long[]{E, rows};
            case FP8_BLOCK_128 -> new long[]{E, rb, cb};
            case BF16, FP16 -> throw new IllegalArgumentException(q.cliName());
        };
        float[] amax = new float[(int) Arrays.stream(shape).reduce(1, Math::multiplyExact)];
        int[] group = new int[w.length];
        for (int x = 0; x < E; x++) {
            for (int r = 0; r < rows; r++) {
                for (int c = 0; c < cols; c++) {
                    int idx = (x * rows + r) * cols + c;
                    group[idx] = switch (q) {
                        case FP8_PER_TENSOR -> x;
                        case FP8_PER_CHANNEL -> x * rows + r;
                        default -> (x * rb + r / 128) * cb + c / 128;
                    };
                    amax[group[idx]] = Math.max(amax[group[idx]], Math.abs(w[idx]));
                }
            }
        }
        float[] scales = new float[amax.length];
        for (int g = 0; g < scales.length; g++) scales[g] = amax[g] == 0 ? 1f : amax[g] / 448f;
        float[] codes = new float[w.length];
        for (int idx = 0; idx < w.length; idx++) codes[idx] = w[idx] / scales[group[idx]];
        return new Tensor[]{HostTensors.fromFloats(arena, DType.FP8_E4M3, codes, E, rows, cols), HostTensors.fromFloats(arena, DType.F32, scales, shape)};
    }

    private static float[] gaussian(Random random, int n, int fanIn) {
        float[] v = new float[n];
        double std = 1 / Math.sqrt(fanIn);
        for (int x = 0; x < n; x++) v[x] = (float) (random.nextGaussian() * std);
        return v;
    }
}
