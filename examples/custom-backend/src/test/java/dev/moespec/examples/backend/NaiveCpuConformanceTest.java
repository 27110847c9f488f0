package dev.moespec.examples.backend;

import dev.moespec.api.config.QuantScheme;
import dev.moespec.api.device.DeviceInfo;
import dev.moespec.api.device.DeviceProfiles;
import dev.moespec.moe.MoeBackendProvider;
import dev.moespec.moe.conformance.MoeBackendConformanceKit;

import java.util.EnumSet;
import java.util.Set;

/** What every backend jar does: run moespec's conformance kit against its own provider. */
class NaiveCpuConformanceTest extends MoeBackendConformanceKit {
    @Override
    protected MoeBackendProvider provider() {
        return new NaiveCpuMoeBackendProvider();
    }

    @Override
    protected DeviceInfo device() {
        return DeviceProfiles.NO_GPU;
    }

    @Override
    protected Set<QuantScheme> expectedSupported() {
        return EnumSet.of(QuantScheme.BF16, QuantScheme.FP16);
    }
}
