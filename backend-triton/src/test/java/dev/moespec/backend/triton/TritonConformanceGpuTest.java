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
 * The spi-moe conformance kit on the GPU: every quantization, every case (M=0, M=1, top-1, E=256, sizes off every
 * tile, experts with no token, grouped routing). FP8 per-tensor and per-channel run on e4m3 tensor cores on sm_89+;
 * FP8 block-128 runs on the dequantise-at-load path. Skips (aborts) where there is no GPU.
 */
@Tag("gpu")
class TritonConformanceGpuTest extends MoeBackendConformanceKit {

    @Override
    protected MoeBackendProvider provider() {
        return new TritonMoeBackendProvider();
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
