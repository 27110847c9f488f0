package dev.moespec.moe.reference;

import dev.moespec.api.config.ModelRole;
import dev.moespec.api.config.QuantScheme;
import dev.moespec.api.device.DeviceProfiles;
import dev.moespec.api.tensor.DType;
import dev.moespec.api.tensor.HostTensors;
import dev.moespec.api.tensor.Tensor;
import dev.moespec.moe.Eligibility;
import dev.moespec.moe.KernelContext;
import dev.moespec.moe.MoeKernel;
import dev.moespec.moe.MoeKernelUnavailableException;
import dev.moespec.moe.MoeLayerSpec;
import dev.moespec.moe.MoeWeights;
import dev.moespec.moe.Routing;
import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;

import static org.junit.jupiter.api.Assertions.*;

class CpuReferenceKernelTest {
    private static final Routing RENORM = new Routing.SoftmaxTopK(true);

    private static MoeLayerSpec layer(int e, int k, int h, int i, Routing routing, QuantScheme q, int maxTokens) {
        return new MoeLayerSpec(e, k, h, i, MoeLayerSpec.Activation.SILU, routing, q, maxTokens);
    }

    private static MoeKernel kernel(MoeLayerSpec layer) throws MoeKernelUnavailableException {
        return new CpuReferenceBackendProvider().create(layer, new KernelContext(ModelRole.TARGET, DeviceProfiles.NO_GPU, false));
    }

    @Test
    void handComputedTokenRoundsTheIntermediateToBf16() throws Exception {
        // E=2, H=I=1: expert 1 has gate=up=down=1; the token (x=2) routes to expert 1 with weight 1 after renormalising.
        // SiLU(2)*2 = 3.52318 rounds to 3.515625 in bf16 (spacing 2^-6 in [2, 4)).
        MoeLayerSpec layer = layer(2, 1, 1, 1, RENORM, QuantScheme.BF16, 4);
        try (Arena a = Arena.ofConfined(); MoeKernel k = kernel(layer)) {
            k.loadWeights(MoeWeights.unquantized(HostTensors.fromFloats(a, DType.F32, new float[]{5, 5, 1, 1}, 2, 2, 1),
                    HostTensors.fromFloats(a, DType.F32, new float[]{7, 1}, 2, 1, 1)));
            Tensor out = HostTensors.allocate(a, DType.F32, 1, 1);
            k.forward(HostTensors.fromFloats(a, DType.F32, new float[]{2}, 1, 1),
                    HostTensors.fromFloats(a, DType.F32, new float[]{0, 1}, 1, 2), out, 0);
            assertEquals(3.515625f, HostTensors.get(out, 0));
        }
    }

    @Test
    void fp8LayerRoundsAnFp32InputToBf16BeforeQuantisingAsTheGpuBackendsReceiveIt() throws Exception {
        // E=1, H=I=1, all weights 1: a one-column 1x128 group quantises losslessly (x / (|x|/448) = ±448), so the
        // output is silu(x')·x' for the x' the kernel saw. 1 + 2^-10 is not a BF16 value: the GPU path gets 1.0.
        MoeLayerSpec layer = layer(1, 1, 1, 1, RENORM, QuantScheme.FP8_BLOCK_128, 4);
        try (Arena a = Arena.ofConfined(); MoeKernel k = kernel(layer)) {
            k.loadWeights(MoeWeights.fp8(HostTensors.fromFloats(a, DType.FP8_E4M3, new float[]{1, 1}, 1, 2, 1),
                    HostTensors.fromFloats(a, DType.FP8_E4M3, new float[]{1}, 1, 1, 1),
                    HostTensors.fromFloats(a, DType.F32, new float[]{1}, 1, 1, 1),
                    HostTensors.fromFloats(a, DType.F32, new float[]{1}, 1, 1, 1)));
            Tensor out = HostTensors.allocate(a, DType.F32, 1, 1);
            float x = 1f + 0x1p-10f;
            k.forward(HostTensors.fromFloats(a, DType.F32, new float[]{x}, 1, 1), HostTensors.fromFloats(a, DType.F32, new float[]{0}, 1, 1), out, 0);
            double silu1 = 1 / (1 + Math.exp(-1));
            assertEquals(silu1, HostTensors.get(out, 0), 1e-6, "the fp32 input must reach the quantiser as bf16(x) = 1");
            assertNotEquals(x / (1 + Math.exp(-x)) * x, HostTensors.get(out, 0), 1e-4);
        }
    }

    @Test
    void softmaxWithoutRenormalizeKeepsTheProbability() {
        ExpertRouter.Route r = ExpertRouter.route(new Routing.SoftmaxTopK(false), 1, new float[]{0, 1}, 0, 2);
        assertArrayEquals(new int[]{1}, r.experts());
        assertEquals((float) (Math.E / (1 + Math.E)), r.weights()[0], 1e-6f);
    }

    @Test
    void tiesGoToTheLowerExpertIndex() {
        ExpertRouter.Route r = ExpertRouter.route(RENORM, 2, new float[]{0.5f, 0.7f, 0.7f, 0.7f}, 0, 4);
        assertArrayEquals(new int[]{1, 2}, r.experts());
        assertArrayEquals(new float[]{0.5f, 0.5f}, r.weights());
    }

    @Test
    void groupedTopKSelectsWithTheBiasButWeighsWithoutIt() {
        // sigmoid = [.8808, .7311, .2689, .1824]; bias lifts group 1 (experts 2, 3) above group 0:
        // group scores 1.6119 vs 2.2513, so experts 2 and 3 win although their unbiased scores are the lowest.
        Routing g = new Routing.SigmoidGroupedTopK(2, 1, true, 2f, new float[]{0, 0, 0.9f, 0.9f});
        ExpertRouter.Route r = ExpertRouter.route(g, 2, new float[]{2, 1, -1, -1.5f}, 0, 4);
        assertArrayEquals(new int[]{2, 3}, r.experts());
        double s2 = 1 / (1 + Math.exp(1)), s3 = 1 / (1 + Math.exp(1.5));
        assertEquals(2 * s2 / (s2 + s3), r.weights()[0], 1e-6);
        assertEquals(2 * s3 / (s2 + s3), r.weights()[1], 1e-6);
    }

    @Test
    void blockScalesApplyPerBlockIncludingPartialBlocks() {
        // w2 of E=1, H=130, I=1: rows 0..127 use block 0, rows 128..129 the partial block 1
        MoeLayerSpec layer = layer(1, 1, 130, 1, RENORM, QuantScheme.FP8_BLOCK_128, 1);
        try (Arena a = Arena.ofConfined()) {
            Tensor w13 = HostTensors.fromFloats(a, DType.FP8_E4M3, filled(2 * 130, 1f), 1, 2, 130);
            Tensor w2 = HostTensors.fromFloats(a, DType.FP8_E4M3, filled(130, 1f), 1, 130, 1);
            Fp32ExpertWeights w = Fp32ExpertWeights.from(layer, MoeWeights.fp8(w13, w2,
                    HostTensors.fromFloats(a, DType.F32, new float[]{0.5f, 0.25f}, 1, 1, 2),
                    HostTensors.fromFloats(a, DType.F32, new float[]{3f, 4f}, 1, 2, 1)));
            assertEquals(0.5f, w.w13()[127]);
            assertEquals(0.25f, w.w13()[128]);
            assertEquals(3f, w.w2()[127]);
            assertEquals(4f, w.w2()[129]);
        }
    }

    @Test
    void forwardNamesTheOffendingTensor() throws Exception {
        MoeLayerSpec layer = layer(2, 1, 4, 2, RENORM, QuantScheme.BF16, 8);
        try (Arena a = Arena.ofConfined(); MoeKernel k = kernel(layer)) {
            k.loadWeights(MoeWeights.unquantized(HostTensors.allocate(a, DType.BF16, 2, 4, 4), HostTensors.allocate(a, DType.BF16, 2, 4, 2)));
            Tensor logits = HostTensors.allocate(a, DType.F32, 3, 2);
            var shape = assertThrows(IllegalArgumentException.class, () -> k.forward(HostTensors.allocate(a, DType.BF16, 3, 5),
                    logits, HostTensors.allocate(a, DType.BF16, 3, 5), 0));
            assertEquals("hidden must be [M, 4] for layer E=2 top-1 H=4 I=2 silu softmax-topk-renorm bf16, got BF16[3, 5]", shape.getMessage());
            var dtype = assertThrows(IllegalArgumentException.class, () -> k.forward(HostTensors.allocate(a, DType.F16, 3, 4),
                    logits, HostTensors.allocate(a, DType.F16, 3, 4), 0));
            assertEquals("hidden must be BF16 or F32 for a bf16 layer, got F16[3, 4]", dtype.getMessage());
            var tooMany = assertThrows(IllegalArgumentException.class, () -> k.forward(HostTensors.allocate(a, DType.BF16, 9, 4),
                    HostTensors.allocate(a, DType.F32, 9, 2), HostTensors.allocate(a, DType.BF16, 9, 4), 0));
            assertEquals("hidden has M=9 tokens but the layer was built for at most maxTokens=8; split the batch or create "
                    + "the kernel with MoeLayerSpec.withMaxTokens(9)", tooMany.getMessage());
            var device = assertThrows(IllegalArgumentException.class, () -> k.forward(Tensor.device(DType.BF16, 0x1000, 3, 4),
                    logits, HostTensors.allocate(a, DType.BF16, 3, 4), 0));
            assertEquals("hidden must be a host tensor for this backend, got BF16[3, 4]@device", device.getMessage());
        }
    }

    @Test
    void loadWeightsNamesTheOffendingWeight() throws Exception {
        MoeLayerSpec fp8 = layer(2, 1, 4, 2, RENORM, QuantScheme.FP8_PER_CHANNEL, 8);
        try (Arena a = Arena.ofConfined(); MoeKernel k = kernel(fp8)) {
            Tensor w13 = HostTensors.allocate(a, DType.FP8_E4M3, 2, 4, 4), w2 = HostTensors.allocate(a, DType.FP8_E4M3, 2, 4, 2);
            var missing = assertThrows(IllegalArgumentException.class, () -> k.loadWeights(MoeWeights.unquantized(w13, w2)));
            assertEquals("w13Scale is missing: a fp8_per_channel layer needs F32[2, 4] scales; use MoeWeights.fp8(...)", missing.getMessage());
            var shape = assertThrows(IllegalArgumentException.class, () -> k.loadWeights(MoeWeights.unquantized(
                    HostTensors.allocate(a, DType.FP8_E4M3, 2, 4, 3), w2)));
            assertEquals("w13 must be [2, 4, 4], got FP8_E4M3[2, 4, 3]", shape.getMessage());
            var bf16 = assertThrows(IllegalArgumentException.class, () -> k.loadWeights(MoeWeights.unquantized(
                    HostTensors.allocate(a, DType.BF16, 2, 4, 4), HostTensors.allocate(a, DType.BF16, 2, 4, 2))));
            assertEquals("w13 must be FP8_E4M3 for a fp8_per_channel layer, got BF16[2, 4, 4]; build the layer with quant BF16 "
                    + "for unquantized weights", bf16.getMessage());
        }
    }

    @Test
    void lifecycleErrorsSayWhatToDo() throws Exception {
        MoeLayerSpec layer = layer(2, 1, 4, 2, RENORM, QuantScheme.BF16, 8);
        MoeKernel k = kernel(layer);
        try (Arena a = Arena.ofConfined()) {
            Tensor h = HostTensors.allocate(a, DType.BF16, 1, 4);
            var noWeights = assertThrows(IllegalStateException.class, () -> k.forward(h, HostTensors.allocate(a, DType.F32, 1, 2), h, 0));
            assertEquals("cpu_reference kernel for " + layer.describe() + " has no weights; call loadWeights first", noWeights.getMessage());
            k.close();
            k.close(); // idempotent
            var closed = assertThrows(IllegalStateException.class, () -> k.loadWeights(MoeWeights.unquantized(h, h)));
            assertEquals("cpu_reference kernel for " + layer.describe() + " is closed", closed.getMessage());
        }
    }

    @Test
    void zeroTokensTouchNothing() throws Exception {
        MoeLayerSpec layer = layer(2, 1, 4, 2, RENORM, QuantScheme.BF16, 8);
        try (Arena a = Arena.ofConfined(); MoeKernel k = kernel(layer)) {
            k.loadWeights(MoeWeights.unquantized(HostTensors.allocate(a, DType.BF16, 2, 4, 4), HostTensors.allocate(a, DType.BF16, 2, 4, 2)));
            assertDoesNotThrow(() -> k.forward(HostTensors.allocate(a, DType.BF16, 0, 4), HostTensors.allocate(a, DType.F32, 0, 2),
                    HostTensors.allocate(a, DType.BF16, 0, 4), 0));
        }
    }

    @Test
    void checkAcceptsEveryQuantizationOnAnyDeviceButRefusesInconsistentRouting() {
        var provider = new CpuReferenceBackendProvider();
        for (QuantScheme q : QuantScheme.values()) {
            assertTrue(provider.check(layer(8, 2, 16, 8, RENORM, q, 4), DeviceProfiles.H100).isEligible());
            assertTrue(provider.check(layer(8, 2, 16, 8, RENORM, q, 4), DeviceProfiles.NO_GPU).isEligible());
        }
        Routing bad = new Routing.SigmoidGroupedTopK(4, 2, true, 1f, new float[6]);
        assertEquals(Eligibility.rejected(Eligibility.Reason.UNSUPPORTED_ROUTING, "numExperts=6 is not divisible by numGroups=4"),
                provider.check(layer(6, 2, 16, 8, bad, QuantScheme.BF16, 4), DeviceProfiles.NO_GPU));
        Routing shortBias = new Routing.SigmoidGroupedTopK(2, 1, true, 1f, new float[3]);
        var ex = assertThrows(MoeKernelUnavailableException.class, () -> kernel(layer(8, 2, 16, 8, shortBias, QuantScheme.BF16, 4)));
        assertEquals("MoE backend 'cpu_reference' cannot create a kernel: UNSUPPORTED_ROUTING: correctionBias has 3 entries, "
                + "expected numExperts=8", ex.getMessage());
    }

    private static float[] filled(int n, float v) {
        float[] f = new float[n];
        java.util.Arrays.fill(f, v);
        return f;
    }
}
