package dev.moespec.cuda;

import dev.moespec.api.device.DeviceInfo;
import dev.moespec.api.device.DeviceProfiles;
import dev.moespec.cuda.internal.DriverLoad;
import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.SymbolLookup;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assumptions.assumeFalse;

/** What CUDA availability looks like on a machine without an NVIDIA driver, like the build machine. */
class CudaAvailabilityTest {
    private static final String NO_DRIVER = "libcuda.so.1 not found (no NVIDIA driver on this machine)";

    // Decided independently of the code under test, so a wrong "Available" cannot skip these tests.
    private static boolean driverInstalled() {
        try (Arena arena = Arena.ofConfined()) {
            SymbolLookup.libraryLookup("libcuda.so.1", arena);
            return true;
        } catch (IllegalArgumentException e) {
            return false;
        }
    }

    @Test
    void withoutADriverCudaIsUnavailableNamingLibcuda() {
        assumeFalse(driverInstalled(), "an NVIDIA driver is installed here; the GPU tests cover this machine");
        assertEquals(new CudaAvailability.Unavailable(NO_DRIVER), Cuda.available());
    }

    @Test
    void withoutADriverTheDetectedDeviceIsTheCpuWithTheReason() {
        assumeFalse(driverInstalled(), "an NVIDIA driver is installed here; the GPU tests cover this machine");
        DeviceInfo device = Cuda.detectDevice();
        assertFalse(device.isCuda());
        assertEquals(NO_DRIVER, device.note());
        assertEquals("cpu (" + NO_DRIVER + ")", device.describe());
    }

    @Test
    void withoutADriverOpeningAContextExplainsWhy() {
        assumeFalse(driverInstalled(), "an NVIDIA driver is installed here; the GPU tests cover this machine");
        var e = assertThrows(IllegalStateException.class, () -> CudaContext.open(0));
        assertEquals("CUDA is not available: " + NO_DRIVER + ". Check Cuda.available() before creating CUDA resources;"
                + " GPU backends report Rejected(NO_DEVICE) instead", e.getMessage());
    }

    @Test
    void availabilityIsComputedOnce() {
        assertSame(Cuda.available(), Cuda.available());
    }

    @Test
    void aMissingDriverBecomesItsReason() {
        assertEquals(new CudaAvailability.Unavailable("native access denied"), Cuda.probe(new DriverLoad.Missing("native access denied")));
    }

    @Test
    void availableListsDevicesAndFormatsTheDriverVersion() {
        var available = new CudaAvailability.Available(List.of(DeviceProfiles.H100), 12080);
        assertEquals("12.8", available.driverVersionString());
        assertEquals("13.0", new CudaAvailability.Available(List.of(DeviceProfiles.H200), 13000).driverVersionString());
        var e = assertThrows(IllegalArgumentException.class, () -> new CudaAvailability.Available(List.of(), 13000));
        assertEquals("Available needs at least one device", e.getMessage());
    }
}
