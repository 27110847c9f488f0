package dev.moespec.api.device;

import java.util.List;
import java.util.Locale;
import java.util.Optional;

/**
 * Known GPUs as {@link DeviceInfo} values: the fakes of unit tests and {@code moespec plan --assume-device},
 * which shows what would be selected on a GPU this machine does not have.
 */
public final class DeviceProfiles {
    private DeviceProfiles() {}

    public static final DeviceInfo H100 = DeviceInfo.cuda(0, "NVIDIA H100 80GB HBM3", 9, 0, 85_520_809_984L, 132);
    public static final DeviceInfo H200 = DeviceInfo.cuda(0, "NVIDIA H200", 9, 0, 150_754_820_096L, 132);
    public static final DeviceInfo A100 = DeviceInfo.cuda(0, "NVIDIA A100-SXM4-80GB", 8, 0, 85_100_068_864L, 108);
    public static final DeviceInfo L40S = DeviceInfo.cuda(0, "NVIDIA L40S", 8, 9, 48_305_799_168L, 142);
    public static final DeviceInfo NO_GPU = DeviceInfo.cpu("no GPU");

    private static final List<String> NAMES = List.of("h100", "h200", "a100", "l40s", "cpu");

    /** Looks a profile up by short name (case-insensitive): h100, h200, a100, l40s, cpu. */
    public static Optional<DeviceInfo> byName(String name) {
        return Optional.ofNullable(switch (name.toLowerCase(Locale.ROOT)) {
            case "h100" -> H100;
            case "h200" -> H200;
            case "a100" -> A100;
            case "l40s" -> L40S;
            case "cpu", "none" -> DeviceInfo.cpu("--assume-device cpu");
            default -> null;
        });
    }

    public static List<String> names() {
        return NAMES;
    }
}
