package dev.moespec.cuda;

import java.util.Map;
import java.util.TreeMap;

/**
 * A snapshot of {@link LaunchLedger}: kernel launches per (role, kernel image).
 *
 * @param counts launches per key; keys with no launch are absent
 */
public record LaunchCounts(Map<Key, Long> counts) {

    /**
     * @param role  the {@link LaunchLedger#scope} the launch was made in
     * @param image the kernel image's name ({@link CudaModule#image()}: the artifactId of the jar that carries it)
     */
    public record Key(String role, String image) {}

    public LaunchCounts {
        counts = Map.copyOf(counts);
    }

    /** Launches of {@code image}'s kernels made in {@code role}. */
    public long count(String role, String image) {
        return counts.getOrDefault(new Key(role, image), 0L);
    }

    /** All launches made in {@code role}, any image. */
    public long total(String role) {
        return counts.entrySet().stream().filter(e -> e.getKey().role().equals(role)).mapToLong(Map.Entry::getValue).sum();
    }

    /** The launches made after {@code earlier} was taken. */
    public LaunchCounts since(LaunchCounts earlier) {
        Map<Key, Long> delta = new TreeMap<>(java.util.Comparator.comparing(Key::role).thenComparing(Key::image));
        counts.forEach((k, v) -> {
            long d = v - earlier.counts.getOrDefault(k, 0L);
            if (d != 0) delta.put(k, d);
        });
        return new LaunchCounts(delta);
    }

    /** Role → image → launches, both sorted by name: what a report prints. */
    public Map<String, Map<String, Long>> byRole() {
        Map<String, Map<String, Long>> out = new TreeMap<>();
        counts.forEach((k, v) -> out.computeIfAbsent(k.role(), r -> new TreeMap<>()).put(k.image(), v));
        return out;
    }
}
