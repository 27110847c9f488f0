package dev.moespec.backend.flashinfer;

import dev.moespec.api.config.QuantScheme;
import dev.moespec.api.device.DeviceInfo;
import dev.moespec.cuda.Cuda;
import dev.moespec.cuda.CudaAvailability;
import dev.moespec.moe.MoeBackendProvider;
import dev.moespec.moe.conformance.KernelHarness;
import dev.moespec.moe.conformance.MoeBackendConformanceKit;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;

import java.util.EnumSet;
import java.util.Set;

/** The conformance kit on the GPU: fp8_block_128 and fp8_per_tensor against the fp64 oracle. Skips without CUDA. */
@Tag("gpu")
class FlashInferConformanceGpuTest extends MoeBackendConformanceKit {

    @BeforeAll
    static void needsCuda() {
        Assumptions.assumeTrue(Cuda.available() instanceof CudaAvailability.Available, () -> "no CUDA: " + Cuda.available());
    }

    @Override
    protected MoeBackendProvider provider() {
        return new FlashInferTrtllmMoeBackendProvider();
    }

    @Override
    protected DeviceInfo device() {
        return Cuda.detectDevice();
    }

    @Override
    protected Set<QuantScheme> expectedSupported() {
        return EnumSet.of(QuantScheme.FP8_BLOCK_128, QuantScheme.FP8_PER_TENSOR);
    }

    @Override
    protected KernelHarness harness() {
        return new DeviceHarness(device().ordinal());
    }
}
