package dev.moespec.backend.flashinfer;

import dev.moespec.api.config.ModelRole;
import dev.moespec.api.config.QuantScheme;
import dev.moespec.api.tensor.DType;
import dev.moespec.api.tensor.HostTensors;
import dev.moespec.api.tensor.Tensor;
import dev.moespec.cuda.Cuda;
import dev.moespec.cuda.CudaAvailability;
import dev.moespec.moe.KernelContext;
import dev.moespec.moe.MoeKernel;
import dev.moespec.moe.MoeLayerSpec;
import dev.moespec.moe.MoeWeights;
import dev.moespec.moe.Routing;
import dev.moespec.moe.conformance.MoeBackendConformanceKit;
import dev.moespec.moe.reference.CpuReferenceBackendProvider;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.lang.foreign.Arena;
import java.util.Locale;
import java.util.SplittableRandom;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * What the conformance kit cannot reach on this backend (its only case with 128-aligned sizes is one softmax layer):
 * sigmoid grouped top-k routing with correction bias, many experts, several M blocks per expert, several GEMM tiles
 * in N and K, split-K, every tile height, and both kernels of 128-row tiles (warp-specialised persistent and round 2's)
 * — against cpu_reference, which applies the same activation
 * quantisation, with the kit's FP8 bound.
 */
@Tag("gpu")
class FlashInferVsReferenceGpuTest {

    @BeforeAll
    static void needsCuda() {
        Assumptions.assumeTrue(Cuda.available() instanceof CudaAvailability.Available, () -> "no CUDA: " + Cuda.available());
    }

    /** The 128-row cases run on both kernels of that tile height: warp-specialised (true) and round 2's (false). */
    static Stream<Arguments> layers() {
        float[] bias = new float[64];
        SplittableRandom r = new SplittableRandom(5);
        for (int e = 0; e < bias.length; e++) bias[e] = (float) (Fp8TestWeights.gauss(r) * 0.1);
        Routing grouped = new Routing.SigmoidGroupedTopK(8, 3, true, 2.5f, bias);
        Routing softmax = new Routing.SoftmaxTopK(true);
        Stream<Arguments> cases = Stream.concat(Stream.of(QuantScheme.FP8_BLOCK_128, QuantScheme.FP8_PER_TENSOR).flatMap(q -> Stream.of(
                Arguments.of(new MoeLayerSpec(64, 6, 512, 384, MoeLayerSpec.Activation.SILU, grouped, q, 300), 300, 0),
                Arguments.of(new MoeLayerSpec(64, 6, 512, 384, MoeLayerSpec.Activation.SILU, grouped, q, 300), 3, 0),
                Arguments.of(new MoeLayerSpec(8, 2, 384, 1024, MoeLayerSpec.Activation.SILU, softmax, q, 300), 300, 16),
                Arguments.of(new MoeLayerSpec(8, 2, 384, 1024, MoeLayerSpec.Activation.SILU, softmax, q, 300), 5, 64),
                Arguments.of(new MoeLayerSpec(8, 2, 384, 1024, MoeLayerSpec.Activation.SILU, new Routing.SoftmaxTopK(false), q, 300), 33, 0),
                // 128-row wgmma tiles (sm_90): several blocks per expert, partial last blocks, 3 GEMM 1 column tiles
                Arguments.of(new MoeLayerSpec(8, 2, 384, 1024, MoeLayerSpec.Activation.SILU, softmax, q, 1000), 1000, 128),
                Arguments.of(new MoeLayerSpec(64, 6, 512, 384, MoeLayerSpec.Activation.SILU, grouped, q, 300), 300, 128))),
                // per-tensor only: H and I not multiples of 128 (partial K tiles, partial N tiles) on wgmma tiles
                Stream.of(Arguments.of(new MoeLayerSpec(8, 2, 400, 1040, MoeLayerSpec.Activation.SILU, softmax, QuantScheme.FP8_PER_TENSOR, 700), 700, 128)));
        return cases.flatMap(a -> (int) a.get()[2] == 128
                ? Stream.of(Arguments.of(a.get()[0], a.get()[1], 128, true), Arguments.of(a.get()[0], a.get()[1], 128, false))
                : Stream.of(Arguments.of(a.get()[0], a.get()[1], a.get()[2], true)));
    }

    /**
     * The warp-specialised persistent kernels (128-row tiles) where they differ from round 2's: more tiles than
     * CTAs (each CTA walks several, its stage ring running on across them), split-K, experts left without tokens,
     * an odd expert count, expert row counts at 128-row tile boundaries. The last argument names experts whose
     * router logit is pushed far down, so that no token picks them.
     */
    static Stream<Arguments> warpSpecialisedLayers() {
        Routing softmax = new Routing.SoftmaxTopK(true);
        return Stream.of(QuantScheme.FP8_BLOCK_128, QuantScheme.FP8_PER_TENSOR).flatMap(q -> Stream.of(
                // GEMM 2: 36 blocks x 6 column tiles of 256 over 132 CTAs; H = 1536: 12 K blocks in GEMM 1
                Arguments.of(new MoeLayerSpec(4, 2, 1536, 128, MoeLayerSpec.Activation.SILU, softmax, q, 2048), 2048, new int[0]),
                // 7 experts, 2 of them without tokens; a few rows per expert: split-K over I = 1024 (8 K blocks); H = 384:
                // the second 256-column tile of GEMM 2 has one 128-row weight block, the other half lies past H
                Arguments.of(new MoeLayerSpec(7, 2, 384, 1024, MoeLayerSpec.Activation.SILU, softmax, q, 400), 5, new int[]{2, 5}),
                Arguments.of(new MoeLayerSpec(7, 2, 384, 1024, MoeLayerSpec.Activation.SILU, softmax, q, 400), 400, new int[]{0, 6}),
                // top-2 of 2 experts: each expert gets exactly M rows, so M walks across the 128-row tile boundaries
                Arguments.of(new MoeLayerSpec(2, 2, 256, 256, MoeLayerSpec.Activation.SILU, softmax, q, 300), 127, new int[0]),
                Arguments.of(new MoeLayerSpec(2, 2, 256, 256, MoeLayerSpec.Activation.SILU, softmax, q, 300), 128, new int[0]),
                Arguments.of(new MoeLayerSpec(2, 2, 256, 256, MoeLayerSpec.Activation.SILU, softmax, q, 300), 129, new int[0]),
                Arguments.of(new MoeLayerSpec(2, 2, 256, 256, MoeLayerSpec.Activation.SILU, softmax, q, 300), 257, new int[0])));
    }

    /**
     * The two decode GEMM 1 kernels (16-row tiles): 4 stages, 1 CTA per SM, and 3 stages, 2 CTAs per SM (Hopper only;
     * elsewhere both run the former). M = 1 (split-K over 8 K tiles) and M = 40 (several 16-row blocks per expert).
     */
    static Stream<Arguments> decodeLayers() {
        Routing softmax = new Routing.SoftmaxTopK(true);
        return Stream.of(QuantScheme.FP8_BLOCK_128, QuantScheme.FP8_PER_TENSOR).flatMap(q -> Stream.of(1, 40).flatMap(m -> Stream.of(true, false)
                .map(x2 -> Arguments.of(new MoeLayerSpec(8, 2, 512, 1024, MoeLayerSpec.Activation.SILU, softmax, q, 64), m, x2))));
    }

    @ParameterizedTest(name = "{0} M={1} bm=16 two CTAs per SM={2}")
    @MethodSource("decodeLayers")
    void decodeKernelsMatchCpuReference(MoeLayerSpec layer, int m, boolean twoPerSm) throws Exception {
        check(layer, m, 16, true, new int[0], twoPerSm);
    }

    @ParameterizedTest(name = "{0} M={1} bm=128 warp-specialised, experts without tokens {2}")
    @MethodSource("warpSpecialisedLayers")
    void warpSpecialisedMatchesCpuReference(MoeLayerSpec layer, int m, int[] silent) throws Exception {
        check(layer, m, 128, true, silent, null);
    }

    @ParameterizedTest(name = "{0} M={1} bm={2} ws={3}")
    @MethodSource("layers")
    void matchesCpuReference(MoeLayerSpec layer, int m, int bm, boolean warpSpecialised) throws Exception {
        check(layer, m, bm, warpSpecialised, new int[0], null);
    }

    private static void check(MoeLayerSpec layer, int m, int bm, boolean warpSpecialised, int[] silent, Boolean twoPerSm) throws Exception {
        try (Arena arena = Arena.ofConfined()) {
            MoeWeights weights = Fp8TestWeights.quantised(arena, layer, 42);
            SplittableRandom random = new SplittableRandom(m * 31L + layer.numExperts());
            float[] x = new float[m * layer.hiddenSize()], logits = new float[m * layer.numExperts()];
            for (int n = 0; n < x.length; n++) x[n] = (float) Fp8TestWeights.gauss(random) * (n % 37 == 0 ? 8 : 1);
            for (int n = 0; n < logits.length; n++) logits[n] = (float) (Fp8TestWeights.gauss(random) * 1.5);
            for (int t = 0; t < m; t++) for (int e : silent) logits[t * layer.numExperts() + e] = -1e4f;
            Tensor hidden = HostTensors.fromFloats(arena, DType.BF16, x, m, layer.hiddenSize());
            Tensor routerLogits = HostTensors.fromFloats(arena, DType.F32, logits, m, layer.numExperts());
            Tensor expected = HostTensors.allocate(arena, DType.BF16, m, layer.hiddenSize());
            Tensor out = HostTensors.allocate(arena, DType.BF16, m, layer.hiddenSize());
            MoeBackendConformanceKit.poison(out);
            var cpuContext = new KernelContext(ModelRole.TARGET, dev.moespec.api.device.DeviceInfo.cpu("oracle"), false);
            try (MoeKernel ref = new CpuReferenceBackendProvider().create(layer, cpuContext)) {
                ref.loadWeights(weights);
                ref.forward(hidden, routerLogits, expected, 0L);
            }
            var gpu = new KernelContext(ModelRole.TARGET, Cuda.detectDevice(), false);
            try (FlashInferTrtllmMoeKernel kernel = (FlashInferTrtllmMoeKernel) new FlashInferTrtllmMoeBackendProvider().create(layer, gpu)) {
                Assumptions.assumeTrue(bm != 128 || kernel.usesWgmma(), "128-row tiles are the wgmma kernels: sm_90 only");
                kernel.forceTileRows(bm);
                kernel.useWarpSpecialised(warpSpecialised);
                kernel.useDecodeTwoPerSm(twoPerSm);
                assertTrue(twoPerSm == null || !kernel.usesWgmma() || kernel.decodeTwoPerSm(m) == twoPerSm,
                        "the forced decode GEMM 1 kernel is the one that runs on sm_90");
                assertTrue(bm != 128 || kernel.usesWarpSpecialised() == warpSpecialised, "warp-specialised kernels on sm_90");
                kernel.loadWeights(weights);
                new DeviceHarness(Cuda.detectDevice().ordinal()).forward(kernel, hidden, routerLogits, out);
            }
            double error = MoeBackendConformanceKit.relativeError(out, expected);
            double bound = MoeBackendConformanceKit.tolerance(layer.quant());
            System.out.printf(Locale.ROOT, "flashinfer_trtllm vs cpu_reference: %s M=%d bm=%d%s rel.err %.3e%n", layer.describe(), m, bm,
                    bm == 128 ? (warpSpecialised ? " ws" : " wg") : twoPerSm == null ? "" : twoPerSm ? " x2" : " x1", error);
            assertTrue(error <= bound, () -> String.format(Locale.ROOT, "relative error %.3e exceeds %.0e for %s M=%d", error, bound, layer.describe(), m));
        }
    }
}
