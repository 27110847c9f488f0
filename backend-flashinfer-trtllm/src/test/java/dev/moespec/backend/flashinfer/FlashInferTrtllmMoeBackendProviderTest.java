package dev.moespec.backend.flashinfer;

import dev.moespec.moe.conformance.KernelBuild;
import dev.moespec.api.config.ModelRole;
import dev.moespec.api.config.QuantScheme;
import dev.moespec.api.device.DeviceInfo;
import dev.moespec.api.device.DeviceProfiles;
import dev.moespec.api.tensor.DType;
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

class FlashInferTrtllmMoeBackendProviderTest {

    private static final String FATBIN = "META-INF/moespec/kernels/moespec-backend-flashinfer-trtllm.fatbin";
    private final FlashInferTrtllmMoeBackendProvider fi = new FlashInferTrtllmMoeBackendProvider();

    private static MoeLayerSpec layer(QuantScheme quant) {
        return layer(quant, 256, 128);
    }

    private static MoeLayerSpec layer(QuantScheme quant, int hidden, int intermediate) {
        return new MoeLayerSpec(16, 4, hidden, intermediate, MoeLayerSpec.Activation.SILU, new Routing.SoftmaxTopK(true), quant, 256);
    }

    private static Eligibility.Rejected rejected(Eligibility e, Reason reason) {
        Eligibility.Rejected r = assertInstanceOf(Eligibility.Rejected.class, e);
        assertEquals(reason, r.reason(), r.detail());
        return r;
    }

    @Test
    void registersUnderItsNameWithServiceLoader() {
        assertTrue(ServiceLoader.load(MoeBackendProvider.class).stream()
                .anyMatch(p -> p.type() == FlashInferTrtllmMoeBackendProvider.class && p.get().name().equals("flashinfer_trtllm")));
    }

    @ParameterizedTest
    @EnumSource(value = QuantScheme.class, names = {"FP8_BLOCK_128", "FP8_PER_TENSOR"})
    void fp8BlockAndPerTensorAreEligibleOnAdaAndHopper(QuantScheme quant) {
        assertEquals(Eligibility.eligible(), fi.check(layer(quant), DeviceProfiles.L40S));
        assertEquals(Eligibility.eligible(), fi.check(layer(quant), DeviceProfiles.H100));
        assertEquals(Eligibility.eligible(), fi.check(layer(quant), DeviceProfiles.H200));
    }

    @ParameterizedTest
    @EnumSource(value = QuantScheme.class, names = {"BF16", "FP16", "FP8_PER_CHANNEL"})
    void otherQuantizationsAreUnsupportedNamingTheLayersQuantAndTheFix(QuantScheme quant) {
        Eligibility.Rejected r = rejected(fi.check(layer(quant), DeviceProfiles.H100), Reason.UNSUPPORTED_QUANTIZATION);
        assertEquals("flashinfer_trtllm serves FP8 weights only (fp8_block_128, fp8_per_tensor); this layer is "
                + quant.cliName() + ". Use triton, or auto", r.detail());
    }

    @Test
    void quantizationIsReportedBeforeTheGpuSinceNoGpuFixesIt() {
        rejected(fi.check(layer(QuantScheme.BF16), DeviceProfiles.A100), Reason.UNSUPPORTED_QUANTIZATION);
    }

    @ParameterizedTest
    @EnumSource(value = QuantScheme.class, names = {"FP8_BLOCK_128", "FP8_PER_TENSOR"})
    void ampereIsUnsupportedDeviceNamingTheSmAndTheFix(QuantScheme quant) {
        Eligibility.Rejected r = rejected(fi.check(layer(quant), DeviceProfiles.A100), Reason.UNSUPPORTED_DEVICE);
        assertTrue(r.detail().contains("NVIDIA A100-SXM4-80GB is sm_80"), r.detail());
        assertTrue(r.detail().contains("Use triton"), r.detail());
    }

    @ParameterizedTest
    @EnumSource(QuantScheme.class)
    void cpuDeviceIsNoDeviceNamingTheNote(QuantScheme quant) {
        Eligibility.Rejected r = rejected(fi.check(layer(quant), DeviceInfo.cpu("CUDA driver not found")), Reason.NO_DEVICE);
        assertTrue(r.detail().contains("CUDA driver not found"), r.detail());
    }

    @Test
    void block128NeedsHiddenSizeMultipleOf128() {
        Eligibility.Rejected r = rejected(fi.check(layer(QuantScheme.FP8_BLOCK_128, 200, 128), DeviceProfiles.H100), Reason.UNSUPPORTED_SHAPE);
        assertEquals("hidden size H=200 is not a multiple of 128 (the 128x128 weight block of fp8_block_128); use triton, or auto", r.detail());
    }

    @Test
    void block128NeedsIntermediateSizeMultipleOf128() {
        Eligibility.Rejected r = rejected(fi.check(layer(QuantScheme.FP8_BLOCK_128, 256, 96), DeviceProfiles.H100), Reason.UNSUPPORTED_SHAPE);
        assertTrue(r.detail().startsWith("intermediate size I=96 is not a multiple of 128"), r.detail());
    }

    @Test
    void perTensorNeedsSizesMultipleOf16Only() {
        assertEquals(Eligibility.eligible(), fi.check(layer(QuantScheme.FP8_PER_TENSOR, 272, 96), DeviceProfiles.H100));
        Eligibility.Rejected r = rejected(fi.check(layer(QuantScheme.FP8_PER_TENSOR, 256, 40), DeviceProfiles.H100), Reason.UNSUPPORTED_SHAPE);
        assertTrue(r.detail().startsWith("intermediate size I=40 is not a multiple of 16"), r.detail());
    }

    @Test
    void missingFatbinIsNoKernelsWithTheRebuildHint() throws IOException {
        try (URLClassLoader empty = new URLClassLoader(new URL[0], null)) {
            Eligibility.Rejected r = rejected(new FlashInferTrtllmMoeBackendProvider(empty).check(layer(QuantScheme.FP8_BLOCK_128), DeviceProfiles.H100),
                    Reason.NO_KERNELS);
            assertTrue(r.detail().contains(FATBIN), r.detail());
            assertTrue(r.detail().contains("built without nvcc: rebuild with CUDA installed"), r.detail());
        }
    }

    @Test
    void withoutNvccTheBuildHasNoFatbinAndTheProviderSaysNoKernels() {
        URL fatbin = FlashInferTrtllmMoeBackendProvider.class.getClassLoader().getResource(FATBIN);
        if (!KernelBuild.nvccWasAvailable()) {
            assertEquals(null, fatbin, "no nvcc, yet a fatbin was built");
            rejected(fi.check(layer(QuantScheme.FP8_BLOCK_128), DeviceProfiles.H100), Reason.NO_KERNELS);
        } else {
            assertEquals(Eligibility.eligible(), fi.check(layer(QuantScheme.FP8_BLOCK_128), DeviceProfiles.H100));
        }
    }

    @Test
    void withNvccTheFatbinIsBuiltIntoTheJarWithTheQuantKernel() throws IOException {
        URL fatbin = FlashInferTrtllmMoeBackendProvider.class.getClassLoader().getResource(FATBIN);
        if (!KernelBuild.nvccWasAvailable()) {
            assertEquals(null, fatbin);
            return; // covered by the test above
        }
        assertNotNull(fatbin, "nvcc is installed, so the build must have compiled src/main/cuda into " + FATBIN);
        try (InputStream in = fatbin.openStream()) {
            String bytes = new String(in.readAllBytes(), StandardCharsets.ISO_8859_1);
            assertTrue(bytes.contains("fp8_quant_per_token_group128"), "fatbin lacks the FP8 activation quantisation kernel");
        }
    }

    @Test
    void planOnlyCreateReturnsAKernelWithoutDeviceStateOnAnyMachine() throws Exception {
        var context = new KernelContext(ModelRole.TARGET, DeviceProfiles.H100, true);
        MoeLayerSpec layer = layer(QuantScheme.FP8_BLOCK_128);
        try (var kernel = fi.create(layer, context)) {
            assertEquals("flashinfer_trtllm", kernel.backend());
            assertEquals(layer, kernel.layer());
            assertInstanceOf(dev.moespec.moe.StagedMoeKernel.class, kernel);
            var weights = dev.moespec.moe.MoeWeights.fp8(tensor(DType.FP8_E4M3, 16, 256, 256), tensor(DType.FP8_E4M3, 16, 256, 128),
                    tensor(DType.F32, 16, 2, 2), tensor(DType.F32, 16, 2, 1));
            var e = assertThrows(IllegalStateException.class, () -> kernel.loadWeights(weights));
            assertTrue(e.getMessage().contains("plan-only mode"), e.getMessage());
        }
    }

    @Test
    void inconsistentGroupedRoutingIsUnsupportedRouting() {
        MoeLayerSpec grouped = new MoeLayerSpec(16, 4, 256, 128, MoeLayerSpec.Activation.SILU,
                new Routing.SigmoidGroupedTopK(3, 1, true, 1f, new float[16]), QuantScheme.FP8_BLOCK_128, 64);
        Eligibility.Rejected r = rejected(fi.check(grouped, DeviceProfiles.H100), Reason.UNSUPPORTED_ROUTING);
        assertTrue(r.detail().contains("numExperts=16 is not divisible by numGroups=3"), r.detail());
    }

    @Test
    void tooManyExpertsForTheRoutingKernelIsUnsupportedShape() {
        MoeLayerSpec wide = new MoeLayerSpec(1024, 8, 256, 128, MoeLayerSpec.Activation.SILU, new Routing.SoftmaxTopK(true),
                QuantScheme.FP8_BLOCK_128, 64);
        Eligibility.Rejected r = rejected(fi.check(wide, DeviceProfiles.H100), Reason.UNSUPPORTED_SHAPE);
        assertTrue(r.detail().startsWith("numExperts=1024 exceeds"), r.detail());
    }

    private static dev.moespec.api.tensor.Tensor tensor(DType dtype, long... shape) {
        return dev.moespec.api.tensor.HostTensors.allocate(java.lang.foreign.Arena.ofAuto(), dtype, shape);
    }

    @Test
    void createForABf16DraftRefusesWithTheQuantizationReason() {
        var context = new KernelContext(ModelRole.DRAFT, DeviceProfiles.H100, false);
        var e = assertThrows(MoeKernelUnavailableException.class, () -> fi.create(layer(QuantScheme.BF16), context));
        assertEquals(Reason.UNSUPPORTED_QUANTIZATION, e.rejection().reason());
        assertTrue(e.rejection().detail().contains("this layer is bf16"), e.rejection().detail());
    }
}
