package dev.moespec.backend.triton;

import dev.moespec.api.config.QuantScheme;
import dev.moespec.api.device.DeviceInfo;
import dev.moespec.cuda.Cuda;
import dev.moespec.moe.MoeBackendProvider;
import dev.moespec.moe.conformance.KernelHarness;
import dev.moespec.moe.conformance.MoeBackendConformanceKit;
import org.junit.jupiter.api.Tag;

import java.util.EnumSet;
import java.util.Set;

/**
 * The conformance kit on the path sm_80-88 take for FP8 (weights dequantised to BF16 at load, activations quantised to
 * e4m3 and back before the BF16 kernels), forced on whatever GPU runs the tests so that an H100 checks it too.
 */
@Tag("gpu")
class TritonDequantisedConformanceGpuTest extends MoeBackendConformanceKit {

    @Override
    protected MoeBackendProvider provider() {
        return new TritonMoeBackendProvider(TritonMoeBackendProvider.class.getClassLoader(), true);
    }

    @Override
    protected DeviceInfo device() {
        return Cuda.detectDevice();
    }

    @Override
    protected Set<QuantScheme> expectedSupported() {
        return EnumSet.allOf(QuantScheme.class);
    }

    @Override
    protected KernelHarness harness() {
        return new DeviceHarness();
    }
}
