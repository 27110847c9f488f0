package dev.moespec.backend.triton;

import dev.moespec.api.config.ModelRole;
import dev.moespec.api.config.QuantScheme;
import dev.moespec.api.device.DeviceInfo;
import dev.moespec.api.tensor.DType;
import dev.moespec.api.tensor.HostTensors;
import dev.moespec.api.tensor.Tensor;
import dev.moespec.cuda.Cuda;
import dev.moespec.moe.KernelContext;
import dev.moespec.moe.MoeKernel;
import dev.moespec.moe.MoeLayerSpec;
import dev.moespec.moe.MoeTensorChecks;
import dev.moespec.moe.MoeWeights;
import dev.moespec.moe.Routing;
import dev.moespec.moe.conformance.MoeBackendConformanceKit;
import dev.moespec.moe.reference.CpuReferenceKernel;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DynamicContainer;
import org.junit.jupiter.api.DynamicNode;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.TestFactory;

import java.lang.foreign.Arena;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Random;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The sm_90a wgmma prefill kernels (moe_gemm_wgmma.cu) against cpu_reference, with {@value PrefillGemms#PROPERTY}=wgmma
 * so that every prefill call takes them: every quantization (FP8 both on e4m3 MMAs and held in fp16), at M large enough
 * for full 128-row tiles, with sizes that are no multiple of any tile (K tails, partial N tiles, experts ending in a
 * 64-row half tile) and experts that get no token. The bound is the conformance kit's. Skips without an sm_90 device.
 */
@Tag("gpu")
class TritonWgmmaPrefillGpuTest {

    /** One layer shape and token count. {@code hot} > 0 steers every token's logits toward experts [0, hot). */
    private record Shape(String name, int experts, int topK, int hidden, int intermediate, int tokens, int hot) {
        MoeLayerSpec layer(QuantScheme q) {
            return new MoeLayerSpec(experts, topK, hidden, intermediate, MoeLayerSpec.Activation.SILU, new Routing.SoftmaxTopK(true),
                    q, tokens);
        }

        @Override
        public String toString() {
            return name + " (E=" + experts + " top-" + topK + " H=" + hidden + " I=" + intermediate + " M=" + tokens + ")";
        }
    }

    private static final List<Shape> SHAPES = List.of(
            // ~75 rows per expert: 128-row tiles next to 64-row tails; I=200 ends in a partial N tile, H=328 in a K tail
            new Shape("mixed", 8, 2, 328, 200, 300, 0),
            // 5 of 32 experts get every token (27 get none), ~200 rows each
            new Shape("skewed", 32, 2, 520, 392, 517, 5),
            // top-1, K spans 9 scale groups with a tail (block-128 promotion across groups; fp16 groups of 2 K tiles)
            new Shape("deep-k", 4, 1, 1096, 136, 400, 0));

    private static String previous;

    @BeforeAll
    static void forceWgmma() {
        DeviceInfo d = Cuda.detectDevice();
        Assumptions.assumeTrue(d.kind() == DeviceInfo.Kind.CUDA && d.sm() == 90,
                "the wgmma kernels need an sm_90 device, got " + d);
        previous = System.setProperty(PrefillGemms.PROPERTY, "wgmma");
    }

    @AfterAll
    static void restore() {
        if (previous == null) System.clearProperty(PrefillGemms.PROPERTY);
        else System.setProperty(PrefillGemms.PROPERTY, previous);
    }

    @TestFactory
    Stream<DynamicNode> wgmmaPrefillMatchesCpuReference() {
        List<DynamicNode> nodes = new ArrayList<>();
        for (QuantScheme q : QuantScheme.values()) {
            for (boolean fp16Fp8 : q.isFp8() ? new boolean[]{false, true} : new boolean[]{false}) {
                String name = q.cliName() + (fp16Fp8 ? " (e4m3 held in fp16)" : "");
                nodes.add(DynamicContainer.dynamicContainer(name, SHAPES.stream().map(s ->
                        DynamicTest.dynamicTest(s.toString(), () -> check(s, q, fp16Fp8)))));
            }
        }
        return nodes.stream();
    }

    private static void check(Shape s, QuantScheme q, boolean fp16Fp8) throws Exception {
        MoeLayerSpec layer = s.layer(q);
        TritonMoeBackendProvider provider = new TritonMoeBackendProvider(TritonMoeBackendProvider.class.getClassLoader(), fp16Fp8);
        Random random = new Random(31L * s.name().hashCode() + q.ordinal());
        try (Arena arena = Arena.ofConfined();
             MoeKernel gpu = provider.create(layer, new KernelContext(ModelRole.TARGET, Cuda.detectDevice(), false));
             CpuReferenceKernel cpu = new CpuReferenceKernel(layer)) {
            MoeWeights w = weights(arena, layer, random);
            DType act = MoeTensorChecks.activationDType(q);
            int m = s.tokens(), h = s.hidden(), e = s.experts();
            float[] x = new float[m * h], logits = new float[m * e];
            for (int n = 0; n < x.length; n++) x[n] = (float) random.nextGaussian();
            for (int t = 0; t < m; t++) {
                for (int j = 0; j < e; j++) {
                    logits[t * e + j] = (float) (random.nextGaussian() + (s.hot() > 0 && j < s.hot() ? 20 : 0));
                }
            }
            Tensor hidden = HostTensors.fromFloats(arena, act, x, m, h);
            Tensor router = HostTensors.fromFloats(arena, DType.F32, logits, m, e);
            Tensor got = HostTensors.allocate(arena, act, m, h), want = HostTensors.allocate(arena, act, m, h);
            MoeBackendConformanceKit.poison(got);
            gpu.loadWeights(w);
            cpu.loadWeights(w);
            new DeviceHarness().forward(gpu, hidden, router, got);
            cpu.forward(hidden, router, want, 0);
            double error = MoeBackendConformanceKit.relativeError(got, want), bound = MoeBackendConformanceKit.tolerance(q);
            assertTrue(error <= bound, () -> String.format(Locale.ROOT, "relative Frobenius error %.3e exceeds %.0e for %s, %s",
                    error, bound, layer.describe(), s));
        }
    }

    /** Gaussian weights (std 1/sqrt(fan-in)); FP8: e4m3 values with random scales in the layer's layout. */
    private static MoeWeights weights(Arena arena, MoeLayerSpec layer, Random random) {
        int e = layer.numExperts(), h = layer.hiddenSize(), i = layer.intermediateSize();
        QuantScheme q = layer.quant();
        if (!q.isFp8()) {
            DType dt = MoeTensorChecks.activationDType(q);
            return MoeWeights.unquantized(HostTensors.fromFloats(arena, dt, gaussian(random, e * 2 * i * h, 1 / Math.sqrt(h)), e, 2L * i, h),
                    HostTensors.fromFloats(arena, dt, gaussian(random, e * h * i, 1 / Math.sqrt(i)), e, h, i));
        }
        Tensor w13 = HostTensors.fromFloats(arena, DType.FP8_E4M3, gaussian(random, e * 2 * i * h, 2), e, 2L * i, h);
        Tensor w2 = HostTensors.fromFloats(arena, DType.FP8_E4M3, gaussian(random, e * h * i, 2), e, h, i);
        return MoeWeights.fp8(w13, w2, scales(arena, q, random, e, 2 * i, h), scales(arena, q, random, e, h, i));
    }

    /** Scales that differ per expert, row or block, so that a wrong index shows in the output. */
    private static Tensor scales(Arena arena, QuantScheme q, Random random, int e, int rows, int cols) {
        long[] shape = switch (q) {
            case FP8_PER_TENSOR -> new long[]{e};
            case FP8_PER_CHANNEL -> new long[]{e, rows};
            default -> new long[]{e, (rows + 127) / 128, (cols + 127) / 128};
        };
        long n = 1;
        for (long d : shape) n *= d;
        float[] v = new float[(int) n];
        for (int k = 0; k < v.length; k++) v[k] = (float) ((0.5 + random.nextDouble()) / Math.sqrt(cols) / 2);
        return HostTensors.fromFloats(arena, DType.F32, v, shape);
    }

    private static float[] gaussian(Random random, int n, double std) {
        float[] v = new float[n];
        for (int k = 0; k < n; k++) v[k] = (float) (random.nextGaussian() * std);
        return v;
    }
}
