package dev.moespec.engine.bench;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;
import java.util.OptionalDouble;

/**
 * {@code --json FILE}: the report with the anchors' field names ({@code shape, dtype, M, E, topk, H, I,
 * experts_hit, us, align_us, flops, weight_bytes, tflops, gbps, pct_hbm, peer_us, ratio}) plus {@code status}
 * ({@code ok}, {@code rejected}, {@code failed}), {@code backend}, {@code timed}, {@code timing} and {@code err}.
 */
public final class BenchJson {
    private static final ObjectMapper MAPPER = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

    private BenchJson() {}

    public static ObjectNode toJson(BenchReport report) {
        return toJson(report, report.peers());
    }

    private static ObjectNode toJson(BenchReport report, PeerAnchors peers) {
        ObjectNode root = MAPPER.createObjectNode();
        ObjectNode meta = root.putObject("meta");
        meta.put("tool", "moespec bench moe");
        meta.put("backend", report.backend());
        meta.put("device", report.device().isCuda() ? report.device().name() : report.device().describe());
        meta.put("device_detail", report.device().describe());
        if (report.device().isCuda()) meta.put("capability", "sm" + report.device().sm());
        meta.put("reps", report.config().reps());
        meta.put("seed", report.config().seed());
        meta.put("cuda_graphs", report.config().graphs());
        meta.put("l2_flush_bytes", report.l2FlushBytes());
        meta.put("l2_flush", report.l2Flush());
        meta.put("hbm_tbs", report.hbm().tbs());
        meta.put("hbm_source", report.hbm().source());
        ArrayNode files = meta.putArray("peer_files");
        report.peers().files().forEach(p -> files.add(p.getFileName().toString()));
        meta.put("flops_formula", "2*M*topk*(H*2I + I*H)");
        meta.put("weight_bytes_formula", "distinct experts hit * (3*H*I * bytes/elem (2 bf16, 1 fp8, 1 fp8block) + for fp8block 4 bytes per 128x128 weight-block scale)");
        meta.put("ratio", "peer_us / us (>1 = faster than the peer)");
        meta.put("err", "||ours - cpu_reference|| / ||cpu_reference|| (Frobenius) on the same inputs; null where not checked (err_note says why)");
        ArrayNode rows = root.putArray("rows");
        meta.put("ratio_best_fp8", "fp8block rows: the better (smaller) of the peer's fp8 and fp8block peer_us / us (issue 4's target)");
        for (BenchRow r : report.rows()) rows.add(row(r, peers));
        return root;
    }

    public static void write(BenchReport report, Path file) {
        try {
            Path parent = file.toAbsolutePath().getParent();
            if (parent != null) Files.createDirectories(parent);
            MAPPER.writeValue(file.toFile(), toJson(report));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write the bench JSON to " + file + ": " + e.getMessage(), e);
        }
    }

    private static ObjectNode row(BenchRow r, PeerAnchors peers) {
        ObjectNode n = MAPPER.createObjectNode();
        n.put("shape", r.shape().name());
        n.put("dtype", r.dtype().label());
        n.put("M", r.tokens());
        n.put("E", r.shape().numExperts());
        n.put("topk", r.shape().topK());
        n.put("H", r.shape().hiddenSize());
        n.put("I", r.shape().intermediateSize());
        n.put("backend", r.backend());
        put(n, "peer_us", r.peer().map(p -> OptionalDouble.of(p.peerUs())).orElse(OptionalDouble.empty()));
        put(n, "peer_align_us", r.peer().flatMap(p -> p.alignUs().isPresent() ? Optional.of(p.alignUs()) : Optional.empty())
                .orElse(OptionalDouble.empty()));
        switch (r) {
            case BenchRow.Measured m -> {
                n.put("status", "ok");
                n.put("experts_hit", m.expertsHit());
                n.put("timed", m.staged() ? "experts" : "forward");
                n.put("us", m.main().medianUs());
                put(n, "align_us", m.align().map(a -> OptionalDouble.of(a.medianUs())).orElse(OptionalDouble.empty()));
                n.put("flops", m.flops());
                n.put("weight_bytes", m.weightBytes());
                n.put("tflops", m.tflops());
                n.put("gbps", m.gbps());
                n.put("pct_hbm", m.pctHbm());
                put(n, "ratio", m.ratio());
                if (m.dtype() == BenchDtype.FP8BLOCK) {
                    OptionalDouble best = peers.bestFp8Us(m.shape().name(), m.tokens());
                    put(n, "peer_best_fp8_us", best);
                    put(n, "ratio_best_fp8", best.isPresent() ? OptionalDouble.of(best.getAsDouble() / m.main().medianUs()) : best);
                }
                if (m.error().isPresent() && !Double.isNaN(m.error().getAsDouble())) n.put("err", m.error().getAsDouble());
                else n.putNull("err");
                if (!m.errorNote().isEmpty()) n.put("err_note", m.errorNote());
                ObjectNode timing = n.putObject("timing");
                timing(timing.putObject("main"), m.main());
                m.align().ifPresent(a -> timing(timing.putObject("align"), a));
            }
            case BenchRow.Rejected x -> {
                n.put("status", "rejected");
                n.put("reason", x.rejection().reason().name());
                n.put("detail", x.rejection().detail());
            }
            case BenchRow.Failed f -> {
                n.put("status", "failed");
                n.put("error", f.error());
            }
        }
        return n;
    }

    private static void timing(ObjectNode n, Timing t) {
        n.put("us", t.medianUs());
        n.put("min_us", t.minUs());
        n.put("reps", t.reps());
        n.put("mode", t.mode());
    }

    private static void put(ObjectNode n, String field, OptionalDouble v) {
        if (v.isPresent()) n.put(field, v.getAsDouble());
        else n.putNull(field);
    }
}
