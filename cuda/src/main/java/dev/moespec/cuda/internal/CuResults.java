package dev.moespec.cuda.internal;

import java.util.Map;

/**
 * Names and descriptions of common {@code CUresult} codes, used only when the driver cannot name a code
 * itself (no library loaded, or {@code cuGetErrorName} rejects the code). The driver's own text wins
 * whenever it is available, so this table only has to cover the codes people actually meet.
 */
public final class CuResults {
    private CuResults() {}

    public static final int CUDA_SUCCESS = 0;

    private record Entry(String name, String description) {}

    private static final Map<Integer, Entry> TABLE = Map.ofEntries(
            Map.entry(1, new Entry("CUDA_ERROR_INVALID_VALUE", "invalid argument")),
            Map.entry(2, new Entry("CUDA_ERROR_OUT_OF_MEMORY", "out of memory")),
            Map.entry(3, new Entry("CUDA_ERROR_NOT_INITIALIZED", "initialization error")),
            Map.entry(4, new Entry("CUDA_ERROR_DEINITIALIZED", "driver shutting down")),
            Map.entry(34, new Entry("CUDA_ERROR_STUB_LIBRARY", "CUDA driver is a stub library")),
            Map.entry(36, new Entry("CUDA_ERROR_CALL_REQUIRES_NEWER_DRIVER", "the call requires a newer driver")),
            Map.entry(46, new Entry("CUDA_ERROR_DEVICE_UNAVAILABLE", "CUDA-capable device(s) is/are busy or unavailable")),
            Map.entry(100, new Entry("CUDA_ERROR_NO_DEVICE", "no CUDA-capable device is detected")),
            Map.entry(101, new Entry("CUDA_ERROR_INVALID_DEVICE", "invalid device ordinal")),
            Map.entry(200, new Entry("CUDA_ERROR_INVALID_IMAGE", "device kernel image is invalid")),
            Map.entry(201, new Entry("CUDA_ERROR_INVALID_CONTEXT", "invalid device context")),
            Map.entry(209, new Entry("CUDA_ERROR_NO_BINARY_FOR_GPU", "no kernel image is available for execution on the device")),
            Map.entry(218, new Entry("CUDA_ERROR_INVALID_PTX", "a PTX JIT compilation failed")),
            Map.entry(222, new Entry("CUDA_ERROR_UNSUPPORTED_PTX_VERSION", "the provided PTX was compiled with an unsupported toolchain")),
            Map.entry(400, new Entry("CUDA_ERROR_INVALID_HANDLE", "invalid resource handle")),
            Map.entry(500, new Entry("CUDA_ERROR_NOT_FOUND", "named symbol not found")),
            Map.entry(600, new Entry("CUDA_ERROR_NOT_READY", "device not ready")),
            Map.entry(700, new Entry("CUDA_ERROR_ILLEGAL_ADDRESS", "an illegal memory access was encountered")),
            Map.entry(701, new Entry("CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES", "too many resources requested for launch")),
            Map.entry(702, new Entry("CUDA_ERROR_LAUNCH_TIMEOUT", "the launch timed out and was terminated")),
            Map.entry(709, new Entry("CUDA_ERROR_CONTEXT_IS_DESTROYED", "context is destroyed")),
            Map.entry(710, new Entry("CUDA_ERROR_ASSERT", "device-side assert triggered")),
            Map.entry(715, new Entry("CUDA_ERROR_ILLEGAL_INSTRUCTION", "an illegal instruction was encountered")),
            Map.entry(716, new Entry("CUDA_ERROR_MISALIGNED_ADDRESS", "misaligned address")),
            Map.entry(719, new Entry("CUDA_ERROR_LAUNCH_FAILED", "unspecified launch failure")),
            Map.entry(801, new Entry("CUDA_ERROR_NOT_SUPPORTED", "operation not supported")),
            Map.entry(803, new Entry("CUDA_ERROR_SYSTEM_DRIVER_MISMATCH", "system has unsupported display driver / cuda driver combination")),
            Map.entry(999, new Entry("CUDA_ERROR_UNKNOWN", "unknown error")));

    /** {@code CUDA_ERROR_OUT_OF_MEMORY} for 2; a synthetic {@code CUresult(12345)} for a code not in the table. */
    public static String fallbackName(int code) {
        Entry e = TABLE.get(code);
        return e != null ? e.name() : code == CUDA_SUCCESS ? "CUDA_SUCCESS" : "CUresult(" + code + ")";
    }

    /** The driver's usual text for a code in the table, else a sentence saying the code is unknown here. */
    public static String fallbackDescription(int code) {
        Entry e = TABLE.get(code);
        return e != null ? e.description() : "no description available (code not known to moespec and the driver could not describe it)";
    }
}
