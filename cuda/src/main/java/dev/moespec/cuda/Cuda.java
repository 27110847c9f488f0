package dev.moespec.cuda;

import dev.moespec.api.device.DeviceInfo;
import dev.moespec.cuda.internal.DriverLibrary;
import dev.moespec.cuda.internal.DriverLoad;

import java.util.ArrayList;
import java.util.List;

/**
 * Entry point: whether CUDA can be used in this process, and which devices it has. The driver is loaded and
 * initialised once, on the first call; without a driver or a GPU nothing throws, the answer says why.
 */
public final class Cuda {
    private Cuda() {}

    private static final class Holder {
        static final CudaAvailability AVAILABILITY = probe(DriverLibrary.get());
    }

    /** The devices, or why CUDA cannot be used (no driver, no device, driver too old); computed once. */
    public static CudaAvailability available() {
        return Holder.AVAILABILITY;
    }

    /** Device 0, or a CPU {@link DeviceInfo} whose note is the reason CUDA is unavailable. */
    public static DeviceInfo detectDevice() {
        return switch (available()) {
            case CudaAvailability.Available a -> a.devices().getFirst();
            case CudaAvailability.Unavailable u -> DeviceInfo.cpu(u.reason());
        };
    }

    /** Initialises the driver and describes every device; a failing call becomes the reason. */
    static CudaAvailability probe(DriverLoad load) {
        return switch (load) {
            case DriverLoad.Missing m -> new CudaAvailability.Unavailable(m.reason());
            case DriverLoad.Loaded l -> {
                DriverLibrary driver = l.library();
                try {
                    driver.init();
                    int version = driver.driverGetVersion();
                    int count = driver.deviceGetCount();
                    if (count == 0) yield new CudaAvailability.Unavailable("no CUDA devices");
                    List<DeviceInfo> devices = new ArrayList<>(count);
                    for (int ordinal = 0; ordinal < count; ordinal++) devices.add(describe(driver, ordinal));
                    yield new CudaAvailability.Available(devices, version);
                } catch (CudaException e) {
                    yield new CudaAvailability.Unavailable(e.getMessage());
                }
            }
        };
    }

    private static DeviceInfo describe(DriverLibrary driver, int ordinal) {
        int device = driver.deviceGet(ordinal);
        return DeviceInfo.cuda(ordinal, driver.deviceGetName(device),
                driver.deviceGetAttribute(DriverLibrary.ATTR_COMPUTE_CAPABILITY_MAJOR, device),
                driver.deviceGetAttribute(DriverLibrary.ATTR_COMPUTE_CAPABILITY_MINOR, device),
                driver.deviceTotalMem(device),
                driver.deviceGetAttribute(DriverLibrary.ATTR_MULTIPROCESSOR_COUNT, device));
    }

    /** The initialised driver, for the resource classes; fails with the reason when CUDA is unavailable. */
    static DriverLibrary driver() {
        if (available() instanceof CudaAvailability.Unavailable u) {
            throw new IllegalStateException("CUDA is not available: " + u.reason()
                    + ". Check Cuda.available() before creating CUDA resources; GPU backends report Rejected(NO_DEVICE) instead");
        }
        return ((DriverLoad.Loaded) DriverLibrary.get()).library();
    }

    /** The available devices; fails like {@link #driver()} when there are none. */
    static List<DeviceInfo> devices() {
        driver();
        return ((CudaAvailability.Available) available()).devices();
    }
}
