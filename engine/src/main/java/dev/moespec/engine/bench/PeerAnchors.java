package dev.moespec.engine.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalDouble;
import java.util.stream.Stream;

/**
 * The peer measurements the benchmark compares against: every {@code *.json} with a {@code rows} array in the
 * anchors directory ({@code anchors/} of the project, a copy of {@code ../shared/anchors}), indexed by
 * (shape, dtype, M). Found under {@code -Dmoespec.home}, else in the current directory or a parent, like the
 * bundled models; a bench without anchors still runs and says "no peer row".
 */
public final class PeerAnchors {
    /** H100 HBM3 peak, used when no anchors file states one. */
    public static final double H100_HBM_TBS = 3.35;

    /** One peer row: the fused forward without routing, and its routing/alignment. */
    public record PeerRow(double peerUs, OptionalDouble alignUs, int expertsHit, String file) {}

    private record Key(String shape, String dtype, int tokens) {}

    private final Map<Key, PeerRow> rows;
    private final List<Path> files;
    private final OptionalDouble hbmTbs;
    private final Optional<String> device;

    private PeerAnchors(Map<Key, PeerRow> rows, List<Path> files, OptionalDouble hbmTbs, Optional<String> device) {
        this.rows = Map.copyOf(rows);
        this.files = List.copyOf(files);
        this.hbmTbs = hbmTbs;
        this.device = device;
    }

    /** No peer data at all. */
    public static PeerAnchors none() {
        return new PeerAnchors(Map.of(), List.of(), OptionalDouble.empty(), Optional.empty());
    }

    /** The anchors directory: {@code $moespec.home/anchors}, else {@code anchors/} in the current directory or a parent. */
    public static Optional<Path> locate() {
        String home = System.getProperty("moespec.home");
        if (home != null && hasAnchors(Path.of(home, "anchors"))) return Optional.of(Path.of(home, "anchors"));
        for (Path dir = Path.of("").toAbsolutePath(); dir != null; dir = dir.getParent()) {
            if (hasAnchors(dir.resolve("anchors"))) return Optional.of(dir.resolve("anchors"));
        }
        return Optional.empty();
    }

    private static boolean hasAnchors(Path dir) {
        if (!Files.isDirectory(dir)) return false;
        try (Stream<Path> s = Files.list(dir)) {
            return s.anyMatch(p -> p.getFileName().toString().endsWith(".json"));
        } catch (IOException e) {
            return false;
        }
    }

    /**
     * Reads every {@code *.json} of {@code dir} that has a {@code rows} array (in file-name order; the first file
     * with a row for a key wins).
     *
     * @throws IllegalArgumentException when {@code dir} is not a directory or a file is not valid JSON
     */
    public static PeerAnchors load(Path dir) {
        if (!Files.isDirectory(dir)) {
            throw new IllegalArgumentException("anchors directory " + dir + " does not exist; pass the directory holding the peer_*.json files");
        }
        ObjectMapper mapper = new ObjectMapper();
        Map<Key, PeerRow> rows = new HashMap<>();
        List<Path> used = new ArrayList<>();
        OptionalDouble hbm = OptionalDouble.empty();
        Optional<String> device = Optional.empty();
        List<Path> jsons;
        try (Stream<Path> s = Files.list(dir)) {
            jsons = s.filter(p -> p.getFileName().toString().endsWith(".json")).sorted().toList();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot list anchors directory " + dir, e);
        }
        for (Path file : jsons) {
            JsonNode root;
            try {
                root = mapper.readTree(file.toFile());
            } catch (IOException e) {
                throw new IllegalArgumentException("anchors file " + file + " is not valid JSON: " + e.getMessage());
            }
            JsonNode list = root.path("rows");
            if (!list.isArray()) continue;
            used.add(file);
            JsonNode meta = root.path("meta");
            if (hbm.isEmpty() && meta.path("hbm_tbs").isNumber()) hbm = OptionalDouble.of(meta.get("hbm_tbs").asDouble());
            if (device.isEmpty() && meta.path("device").isTextual()) device = Optional.of(meta.get("device").asText());
            for (JsonNode r : list) {
                if (!r.path("peer_us").isNumber()) continue;
                Key key = new Key(r.path("shape").asText(), r.path("dtype").asText(), r.path("M").asInt());
                OptionalDouble align = r.path("align_us").isNumber() ? OptionalDouble.of(r.get("align_us").asDouble()) : OptionalDouble.empty();
                rows.putIfAbsent(key, new PeerRow(r.get("peer_us").asDouble(), align, r.path("experts_hit").asInt(-1),
                        file.getFileName().toString()));
            }
        }
        return new PeerAnchors(rows, used, hbm, device);
    }

    /** The peer row for this shape, dtype and M, if the anchors have one. */
    public Optional<PeerRow> row(String shape, BenchDtype dtype, int tokens) {
        return Optional.ofNullable(rows.get(new Key(shape, dtype.label(), tokens)));
    }

    /** The faster of the peer's fp8 (per-tensor) and fp8block rows: the bar FP8 block-scale backends are held to. */
    public OptionalDouble bestFp8Us(String shape, int tokens) {
        return Stream.of(BenchDtype.FP8, BenchDtype.FP8BLOCK).map(d -> row(shape, d, tokens)).flatMap(Optional::stream)
                .mapToDouble(PeerRow::peerUs).min();
    }

    /** The files rows were read from. */
    public List<Path> files() {
        return files;
    }

    /** The device the peer was measured on, as its meta says. */
    public Optional<String> device() {
        return device;
    }

    /** Peak HBM bandwidth for the % HBM column, and where it came from. */
    public HbmPeak hbmPeak() {
        if (hbmTbs.isPresent()) {
            return new HbmPeak(hbmTbs.getAsDouble(), "from the anchors' meta (" + files.getFirst().getFileName() + ")");
        }
        return new HbmPeak(H100_HBM_TBS, "H100 HBM3 datasheet value (no anchors meta states one)");
    }

    /** @param tbs terabytes per second; @param source where the number came from, printed under the table */
    public record HbmPeak(double tbs, String source) {}
}
