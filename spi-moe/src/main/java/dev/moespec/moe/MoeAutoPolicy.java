package dev.moespec.moe;

import dev.moespec.api.device.DeviceInfo;

import java.util.List;
import java.util.Set;

/**
 * How {@code --moe-backend auto} ranks backends (ServiceLoader; the backend-auto module ships the built-in
 * heuristic table). The resolver walks the ranking and takes the first candidate whose
 * {@link MoeBackendProvider#check} is eligible and that is not excluded; every skipped one is reported.
 */
public interface MoeAutoPolicy {

    /** Name shown in reports ("heuristic-table"). */
    String name();

    /**
     * Backend names in order of preference for this layer, device and phase, each with the rationale a user
     * sees in the report ("fp8_block_128 on sm_90, decode: FP8 tensor cores read half the bytes").
     * May name backends that are not registered; the resolver skips those.
     *
     * @param registered the names of the providers currently registered, for policies that append unknown third-party backends
     */
    List<Preference> rank(MoeLayerSpec layer, DeviceInfo device, Phase phase, Set<String> registered);

    record Preference(String backend, String rationale) {}
}
