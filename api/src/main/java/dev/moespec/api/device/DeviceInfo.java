package dev.moespec.api.device;

import java.util.Objects;

/**
 * What a plugin needs to know about the device a model runs on. A plain record so that eligibility
 * rules, {@code auto} and the resolver are unit-tested with fakes ({@link DeviceProfiles}) instead of a GPU.
 *
 * @param kind             CUDA GPU or CPU (no usable GPU)
 * @param ordinal          CUDA device ordinal, -1 for CPU
 * @param name             marketing name as the driver reports it ("NVIDIA H100 80GB HBM3"), or "cpu"
 * @param smMajor          compute capability major (9 for Hopper), 0 for CPU
 * @param smMinor          compute capability minor, 0 for CPU
 * @param totalMemoryBytes device memory, 0 for CPU
 * @param multiprocessors  SM count, 0 for CPU
 * @param note             for CPU: why no GPU is used (no driver, no device, user asked for CPU); else ""
 */
public record DeviceInfo(Kind kind, int ordinal, String name, int smMajor, int smMinor,
                         long totalMemoryBytes, int multiprocessors, String note) {

    public enum Kind { CUDA, CPU }

    public DeviceInfo {
        Objects.requireNonNull(kind, "kind");
        Objects.requireNonNull(name, "name");
        note = note == null ? "" : note;
    }

    public static DeviceInfo cuda(int ordinal, String name, int smMajor, int smMinor,
                                  long totalMemoryBytes, int multiprocessors) {
        return new DeviceInfo(Kind.CUDA, ordinal, name, smMajor, smMinor, totalMemoryBytes, multiprocessors, "");
    }

    /** No GPU: {@code why} says why (shown in selection reports). */
    public static DeviceInfo cpu(String why) {
        return new DeviceInfo(Kind.CPU, -1, "cpu", 0, 0, 0, 0, why);
    }

    public boolean isCuda() {
        return kind == Kind.CUDA;
    }

    /** Compute capability as one number: 90 for sm_90, 89 for sm_89; 0 for CPU. */
    public int sm() {
        return smMajor * 10 + smMinor;
    }

    /** One line for reports: {@code NVIDIA H100 80GB HBM3 (sm_90, 132 SMs, 79.6 GiB)} or {@code cpu (no CUDA driver)}. */
    public String describe() {
        if (!isCuda()) {
            return note.isEmpty() ? "cpu" : "cpu (" + note + ")";
        }
        return "%s (sm_%d, %d SMs, %.1f GiB)".formatted(name, sm(), multiprocessors, totalMemoryBytes / (double) (1L << 30));
    }
}
