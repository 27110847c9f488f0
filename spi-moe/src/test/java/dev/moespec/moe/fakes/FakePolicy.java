package dev.moespec.moe.fakes;

import dev.moespec.api.device.DeviceInfo;
import dev.moespec.moe.MoeAutoPolicy;
import dev.moespec.moe.MoeLayerSpec;
import dev.moespec.moe.Phase;

import java.util.List;
import java.util.Map;
import java.util.Set;

/** An auto policy with a fixed ranking per phase, for resolver tests. */
public class FakePolicy implements MoeAutoPolicy {
    private final String name;
    private final Map<Phase, List<Preference>> rankings;

    public FakePolicy(String name, Map<Phase, List<Preference>> rankings) {
        this.name = name;
        this.rankings = rankings;
    }

    @Override
    public String name() {
        return name;
    }

    @Override
    public List<Preference> rank(MoeLayerSpec layer, DeviceInfo device, Phase phase, Set<String> registered) {
        return rankings.getOrDefault(phase, List.of());
    }
}
