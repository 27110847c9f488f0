package dev.moespec.cuda;

import dev.moespec.api.device.DeviceInfo;

import java.util.List;
import java.util.Objects;

/** Whether this process can use CUDA, from {@link Cuda#available()}: the devices, or why not. */
public sealed interface CudaAvailability permits CudaAvailability.Available, CudaAvailability.Unavailable {

    /**
     * The driver initialised and found at least one device.
     *
     * @param devices       one entry per ordinal, in ordinal order
     * @param driverVersion the driver's CUDA version as {@code cuDriverGetVersion} reports it (13000 = 13.0)
     */
    record Available(List<DeviceInfo> devices, int driverVersion) implements CudaAvailability {
        public Available {
            devices = List.copyOf(devices);
            if (devices.isEmpty()) throw new IllegalArgumentException("Available needs at least one device");
        }

        /** {@code "13.0"} for 13000. */
        public String driverVersionString() {
            return driverVersion / 1000 + "." + driverVersion % 1000 / 10;
        }
    }

    /** CUDA cannot be used; {@code reason} is one sentence for reports and {@link DeviceInfo#note()}. */
    record Unavailable(String reason) implements CudaAvailability {
        public Unavailable {
            Objects.requireNonNull(reason, "reason");
        }
    }
}
