package dev.moespec.moe.reference;

import dev.moespec.api.config.QuantScheme;
import dev.moespec.api.device.DeviceInfo;
import dev.moespec.api.device.DeviceProfiles;
import dev.moespec.moe.MoeBackendProvider;
import dev.moespec.moe.conformance.MoeBackendConformanceKit;

import java.util.EnumSet;
import java.util.Set;

/** The oracle passes its own conformance kit, for every quantization. */
class CpuReferenceConformanceTest extends MoeBackendConformanceKit {
    @Override
    protected MoeBackendProvider provider() {
        return new CpuReferenceBackendProvider();
    }

    @Override
    protected DeviceInfo device() {
        return DeviceProfiles.NO_GPU;
    }

    @Override
    protected Set<QuantScheme> expectedSupported() {
        return EnumSet.allOf(QuantScheme.class);
    }
}
