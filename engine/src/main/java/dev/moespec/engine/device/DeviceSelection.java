package dev.moespec.engine.device;

import dev.moespec.api.device.DeviceInfo;
import dev.moespec.api.device.DeviceProfiles;
import dev.moespec.cuda.Cuda;

/** Which device a run plans for: the one the CUDA driver reports, or a named profile ({@code --assume-device}). */
public final class DeviceSelection {
    private DeviceSelection() {}

    /** The first CUDA device, or the CPU with the reason there is no usable GPU. */
    public static DeviceInfo detect() {
        return Cuda.detectDevice();
    }

    /**
     * A named profile; {@code null} or blank detects.
     *
     * @throws IllegalArgumentException for an unknown name, listing the known ones
     */
    public static DeviceInfo assume(String name) {
        if (name == null || name.isBlank()) {
            return detect();
        }
        return DeviceProfiles.byName(name.strip()).orElseThrow(() -> new IllegalArgumentException(
                "Unknown device '" + name + "' for --assume-device. Known: " + String.join(", ", DeviceProfiles.names())));
    }
}
