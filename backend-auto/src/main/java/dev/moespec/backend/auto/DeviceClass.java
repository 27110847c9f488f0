package dev.moespec.backend.auto;

import dev.moespec.api.device.DeviceInfo;

/**
 * The device generations the heuristic table distinguishes: what matters for MoE kernel choice is whether
 * there is a GPU, whether it has BF16 tensor cores (sm_80) and whether it has FP8 tensor cores (sm_89).
 */
public enum DeviceClass {
    /** No usable GPU: the CPU reference runs. */
    NO_GPU("no GPU"),
    /** Volta/Turing: no built-in kernel targets them. */
    SM_BELOW_80("sm < 80"),
    /** Ampere (A100, A10, RTX 30): BF16 tensor cores, no FP8. */
    SM_80_TO_88("sm 80-88"),
    /** Ada, Hopper and newer: FP8 (e4m3) tensor cores. */
    SM_89_UP("sm >= 89");

    private final String label;

    DeviceClass(String label) {
        this.label = label;
    }

    public static DeviceClass of(DeviceInfo device) {
        if (!device.isCuda()) return NO_GPU;
        if (device.sm() < 80) return SM_BELOW_80;
        return device.sm() < 89 ? SM_80_TO_88 : SM_89_UP;
    }

    /** Short form for tables and messages: {@code sm >= 89}. */
    public String label() {
        return label;
    }
}
