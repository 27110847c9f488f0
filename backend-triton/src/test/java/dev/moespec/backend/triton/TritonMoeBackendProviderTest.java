package dev.moespec.backend.triton;

import dev.moespec.moe.conformance.KernelBuild;
import dev.moespec.api.config.ModelRole;
import dev.moespec.api.config.QuantScheme;
import dev.moespec.api.device.DeviceInfo;
import dev.moespec.api.device.DeviceProfiles;
import dev.moespec.moe.Eligibility;
import dev.moespec.moe.Eligibility.Reason;
import dev.moespec.moe.KernelContext;
import dev.moespec.moe.MoeBackendProvider;
import dev.moespec.moe.MoeKernelUnavailableException;
import dev.moespec.moe.MoeLayerSpec;
import dev.moespec.moe.Routing;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.IOException;
import java.io.InputStream;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.charset.StandardCharsets;
import java.util.ServiceLoader;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class TritonMoeBackendProviderTest {

    private static final DeviceInfo V100 = DeviceInfo.cuda(0, "Tesla V100-SXM2-32GB", 7, 0, 34_089_730_048L, 80);
    private static final String FATBIN = "META-INF/moespec/kernels/moespec-backend-triton.fatbin";
    private final TritonMoeBackendProvider triton = new TritonMoeBackendProvider();

    private static MoeLayerSpec layer(QuantScheme quant) {
        return new MoeLayerSpec(16, 4, 256, 128, MoeLayerSpec.Activation.SILU, new Routing.SoftmaxTopK(true), quant, 256);
    }

    private static Eligibility.Rejected rejected(Eligibility e, Reason reason) {
        Eligibility.Rejected r = assertInstanceOf(Eligibility.Rejected.class, e);
        assertEquals(reason, r.reason(), r.detail());
        return r;
    }

    @Test
    void registersUnderItsNameWithServiceLoader() {
        assertTrue(ServiceLoader.load(MoeBackendProvider.class).stream()
                .anyMatch(p -> p.type() == TritonMoeBackendProvider.class && p.get().name().equals("triton")));
    }

    @ParameterizedTest
    @EnumSource(QuantScheme.class)
    void cpuDeviceIsNoDeviceNamingTheNote(QuantScheme quant) {
        Eligibility.Rejected r = rejected(triton.check(layer(quant), DeviceInfo.cpu("no CUDA driver")), Reason.NO_DEVICE);
        assertTrue(r.detail().contains("no CUDA driver"), r.detail());
    }

    @Test
    void preAmpereGpuIsUnsupportedDeviceNamingTheSm() {
        Eligibility.Rejected r = rejected(triton.check(layer(QuantScheme.BF16), V100), Reason.UNSUPPORTED_DEVICE);
        assertEquals("triton needs sm_80 or newer (Ampere, Ada, Hopper); Tesla V100-SXM2-32GB is sm_70", r.detail());
    }

    @ParameterizedTest
    @EnumSource(QuantScheme.class)
    void everyQuantizationIsEligibleOnAmpereAdaAndHopper(QuantScheme quant) {
        // FP8 on the A100 runs by dequantising to BF16 at load; on L40S (sm_89) and H100 natively
        for (DeviceInfo device : new DeviceInfo[] {DeviceProfiles.A100, DeviceProfiles.L40S, DeviceProfiles.H100}) {
            assertEquals(Eligibility.eligible(), triton.check(layer(quant), device), quant + " on " + device.describe());
        }
    }

    @Test
    void descriptionSaysFp8IsDequantisedBelowSm89() {
        assertTrue(triton.description().contains("fp8 dequantised to bf16 at load on sm_80-88"), triton.description());
    }

    @Test
    void hiddenSizeNotMultipleOf8IsUnsupportedShape() {
        MoeLayerSpec l = new MoeLayerSpec(16, 4, 100, 128, MoeLayerSpec.Activation.SILU, new Routing.SoftmaxTopK(true), QuantScheme.BF16, 8);
        Eligibility.Rejected r = rejected(triton.check(l, DeviceProfiles.H100), Reason.UNSUPPORTED_SHAPE);
        assertTrue(r.detail().startsWith("hidden size H=100 is not a multiple of 8"), r.detail());
    }

    @Test
    void intermediateSizeNotMultipleOf8IsUnsupportedShape() {
        MoeLayerSpec l = new MoeLayerSpec(16, 4, 256, 60, MoeLayerSpec.Activation.SILU, new Routing.SoftmaxTopK(true), QuantScheme.FP8_BLOCK_128, 8);
        Eligibility.Rejected r = rejected(triton.check(l, DeviceProfiles.H100), Reason.UNSUPPORTED_SHAPE);
        assertTrue(r.detail().startsWith("intermediate size I=60 is not a multiple of 8"), r.detail());
    }

    @Test
    void moreThan1024ExpertsIsUnsupportedShape() {
        MoeLayerSpec l = new MoeLayerSpec(2048, 8, 256, 128, MoeLayerSpec.Activation.SILU, new Routing.SoftmaxTopK(true), QuantScheme.BF16, 8);
        Eligibility.Rejected r = rejected(triton.check(l, DeviceProfiles.H100), Reason.UNSUPPORTED_SHAPE);
        assertTrue(r.detail().startsWith("E=2048 experts exceed triton's routing limit of 1024"), r.detail());
    }

    @Test
    void topKAbove32IsUnsupportedRouting() {
        MoeLayerSpec l = new MoeLayerSpec(64, 33, 256, 128, MoeLayerSpec.Activation.SILU, new Routing.SoftmaxTopK(false), QuantScheme.BF16, 8);
        Eligibility.Rejected r = rejected(triton.check(l, DeviceProfiles.H100), Reason.UNSUPPORTED_ROUTING);
        assertEquals("top-k 33 exceeds triton's routing limit of 32 experts per token", r.detail());
        MoeLayerSpec top32 = new MoeLayerSpec(64, 32, 256, 128, MoeLayerSpec.Activation.SILU, new Routing.SoftmaxTopK(false), QuantScheme.BF16, 8);
        assertEquals(Eligibility.eligible(), triton.check(top32, DeviceProfiles.H100));
    }

    @ParameterizedTest
    @ValueSource(ints = {8, 32})
    void groupedRoutingUpTo32GroupsIsEligible(int groups) {
        assertEquals(Eligibility.eligible(), triton.check(grouped(256, groups), DeviceProfiles.H100));
    }

    @Test
    void groupedRoutingAbove32GroupsIsUnsupportedRouting() {
        Eligibility.Rejected r = rejected(triton.check(grouped(256, 64), DeviceProfiles.H100), Reason.UNSUPPORTED_ROUTING);
        assertEquals("sigmoid grouped routing with 64 groups exceeds triton's limit of 32 groups", r.detail());
    }

    @Test
    void groupedRoutingWithUnevenGroupsIsUnsupportedRouting() {
        Eligibility.Rejected r = rejected(triton.check(grouped(60, 8), DeviceProfiles.H100), Reason.UNSUPPORTED_ROUTING);
        assertTrue(r.detail().contains("E=60 experts to split evenly into 8 groups"), r.detail());
    }

    private static MoeLayerSpec grouped(int experts, int groups) {
        Routing routing = new Routing.SigmoidGroupedTopK(groups, Math.min(4, groups), true, 2.5f, new float[experts]);
        return new MoeLayerSpec(experts, 8, 256, 128, MoeLayerSpec.Activation.SILU, routing, QuantScheme.FP8_BLOCK_128, 8);
    }

    @Test
    void rulesApplyInOrderDeviceBeforeShapeBeforeRouting() {
        MoeLayerSpec badShapeAndRouting = new MoeLayerSpec(64, 33, 100, 128, MoeLayerSpec.Activation.SILU,
                new Routing.SoftmaxTopK(true), QuantScheme.BF16, 8);
        rejected(triton.check(badShapeAndRouting, DeviceProfiles.NO_GPU), Reason.NO_DEVICE);
        rejected(triton.check(badShapeAndRouting, V100), Reason.UNSUPPORTED_DEVICE);
        rejected(triton.check(badShapeAndRouting, DeviceProfiles.H100), Reason.UNSUPPORTED_SHAPE);
    }

    @Test
    void missingFatbinIsNoKernelsWithTheRebuildHint() {
        try (URLClassLoader empty = new URLClassLoader(new URL[0], null)) {
            Eligibility.Rejected r = rejected(new TritonMoeBackendProvider(empty).check(layer(QuantScheme.BF16), DeviceProfiles.H100),
                    Reason.NO_KERNELS);
            assertTrue(r.detail().contains("META-INF/moespec/kernels/moespec-backend-triton.fatbin"), r.detail());
            assertTrue(r.detail().contains("built without nvcc: rebuild with CUDA installed"), r.detail());
        } catch (IOException e) {
            throw new AssertionError(e);
        }
    }

    @Test
    void withoutNvccTheBuildHasNoFatbinAndTheProviderSaysNoKernels() {
        URL fatbin = TritonMoeBackendProvider.class.getClassLoader().getResource(FATBIN);
        if (!KernelBuild.nvccWasAvailable()) {
            assertEquals(null, fatbin, "no nvcc, yet a fatbin was built");
            rejected(triton.check(layer(QuantScheme.BF16), DeviceProfiles.H100), Reason.NO_KERNELS);
        } else {
            assertEquals(Eligibility.eligible(), triton.check(layer(QuantScheme.BF16), DeviceProfiles.H100));
        }
    }

    @Test
    void withNvccTheFatbinIsBuiltIntoTheJarWithEveryStage() throws IOException {
        URL fatbin = TritonMoeBackendProvider.class.getClassLoader().getResource(FATBIN);
        if (!KernelBuild.nvccWasAvailable()) {
            assertEquals(null, fatbin);
            return; // covered by the test above
        }
        assertNotNull(fatbin, "nvcc is installed, so the build must have compiled src/main/cuda into " + FATBIN);
        try (InputStream in = fatbin.openStream()) {
            String bytes = new String(in.readAllBytes(), StandardCharsets.ISO_8859_1);
            assertTrue(bytes.contains("moe_softmax_topk"), "fatbin lacks the softmax top-k routing kernel");
            for (String kernel : new String[]{"moe_sigmoid_grouped_topk", "moe_align", "moe_quant_rows_e4m3", "moe_decode_gemm1_bf16_t1",
                    "moe_decode_gemm2_e4m3_t16", "moe_gemm1_bf16", "moe_gemm2_e4m3", "moe_reduce_topk"}) {
                assertTrue(bytes.contains(kernel), "fatbin lacks " + kernel);
            }
        }
    }

    @ParameterizedTest
    @ValueSource(booleans = {false, true})
    void createReturnsAKernelWithoutTouchingTheDevice(boolean planOnly) throws MoeKernelUnavailableException {
        // an assumed H100 on a machine that may have no GPU at all: nothing may be opened or allocated before loadWeights
        var context = new KernelContext(ModelRole.TARGET, DeviceProfiles.H100, planOnly);
        try (var kernel = triton.create(layer(QuantScheme.BF16), context)) {
            assertEquals("triton", kernel.backend());
            assertEquals(layer(QuantScheme.BF16), kernel.layer());
            assertInstanceOf(dev.moespec.moe.StagedMoeKernel.class, kernel);
            var e = assertThrows(IllegalStateException.class, () -> kernel.forward(
                    dev.moespec.api.tensor.Tensor.device(dev.moespec.api.tensor.DType.BF16, 0, 1, 256),
                    dev.moespec.api.tensor.Tensor.device(dev.moespec.api.tensor.DType.F32, 0, 1, 16),
                    dev.moespec.api.tensor.Tensor.device(dev.moespec.api.tensor.DType.BF16, 0, 1, 256), 0L));
            assertTrue(e.getMessage().contains("call loadWeights first"), e.getMessage());
        }
    }

    @Test
    void fp8LayersRunNativelyFromSm89AndDequantisedBelowOrForBlockScales() {
        MoeLayerSpec perTensor = layer(QuantScheme.FP8_PER_TENSOR);
        assertTrue(TritonNumerics.of(perTensor, 90, false).fp8Gemm());
        assertTrue(TritonNumerics.of(layer(QuantScheme.FP8_PER_CHANNEL), 89, false).fp8Gemm());
        assertTrue(TritonNumerics.of(perTensor, 80, false).dequantised());
        assertTrue(TritonNumerics.of(layer(QuantScheme.FP8_BLOCK_128), 90, false).dequantised());
        assertEquals(TritonNumerics.ActivationQuant.NONE, TritonNumerics.of(layer(QuantScheme.BF16), 90, false).activation());
        // FP8 rows padded to whole 16-byte vectors; BF16 rows are already (H, I are multiples of 8)
        assertEquals(48, TritonNumerics.of(perTensor, 90, false).padK(40));
        assertEquals(40, TritonNumerics.of(layer(QuantScheme.BF16), 90, false).padK(40));
    }

    @Test
    void groupedRoutingThatCannotFillTopKIsUnsupportedRouting() {
        Routing routing = new Routing.SigmoidGroupedTopK(8, 1, true, 1f, new float[64]);
        MoeLayerSpec l = new MoeLayerSpec(64, 9, 256, 128, MoeLayerSpec.Activation.SILU, routing, QuantScheme.BF16, 8);
        Eligibility.Rejected r = rejected(triton.check(l, DeviceProfiles.H100), Reason.UNSUPPORTED_ROUTING);
        assertEquals("top-9 cannot be taken from 1 groups of 8 experts", r.detail());
    }

    @Test
    void createOnAnIneligibleDeviceRefusesWithThatReason() {
        var context = new KernelContext(ModelRole.DRAFT, DeviceProfiles.NO_GPU, true);
        var e = assertThrows(MoeKernelUnavailableException.class, () -> triton.create(layer(QuantScheme.BF16), context));
        assertEquals(Reason.NO_DEVICE, e.rejection().reason());
    }
}
