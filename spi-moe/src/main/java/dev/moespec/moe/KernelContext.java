package dev.moespec.moe;

import dev.moespec.api.config.ModelRole;
import dev.moespec.api.device.DeviceInfo;

/**
 * What {@link MoeBackendProvider#create} is given. Passed in, never pulled from a global (the bug class of
 * a process-wide "current MoE backend" shared by target and draft).
 *
 * @param role     the model the kernel belongs to
 * @param device   the device it runs on
 * @param planOnly true when the caller only wants to know whether a kernel could be created
 *                 ({@code moespec plan}): allocate nothing on the device
 */
public record KernelContext(ModelRole role, DeviceInfo device, boolean planOnly) {
}
