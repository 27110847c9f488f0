package dev.moespec.engine.bench;

import java.io.PrintWriter;
import java.util.Locale;
import java.util.Optional;
import java.util.OptionalDouble;
import java.util.stream.Collectors;

/**
 * The markdown table of {@code moespec bench moe}, with the anchors' columns: a header line naming the device,
 * the timing method and the peer, one row per shape × M × dtype, and notes on the definitions.
 */
public final class BenchTable {
    private BenchTable() {}

    static final String HEADER = "| shape | dtype | M | backend | hit | timed | mode | us | align_us | TFLOP/s | GB/s | % HBM | peer_us | ratio | err vs cpu_reference |";

    public static void print(BenchReport report, PrintWriter out) {
        MoeBench.Config c = report.config();
        out.println("# moespec bench moe: backend " + report.backend() + " on " + report.device().describe());
        out.println();
        StringBuilder timing = new StringBuilder("timing: median of " + c.reps() + " reps");
        if (report.l2FlushBytes() > 0) {
            timing.append("; GPU: CUDA events, L2 flushed before each rep (").append(report.l2Flush())
                    .append("), ").append(c.graphs() ? "CUDA-graph replay where the kernel captures" : "eager launches (--no-graphs)");
        }
        if (report.rows().stream().anyMatch(r -> r instanceof BenchRow.Measured m && m.main().mode().equals("host"))) {
            timing.append("; host kernels: wall clock");
        }
        out.println(timing);
        out.println(report.peers().files().isEmpty() ? "peer: no anchors found (run from the project checkout or pass --anchors DIR)"
                : "peer: " + report.peers().files().stream().map(p -> p.getFileName().toString()).collect(Collectors.joining(", "))
                + report.peers().device().map(d -> " (" + d + ")").orElse("") + "; ratio = peer_us / us (>1 = faster than the peer)");
        out.println("%% HBM of %.2f TB/s, %s".formatted(report.hbm().tbs(), report.hbm().source()));
        out.println();
        out.println(HEADER);
        out.println("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|");
        for (BenchRow r : report.rows()) out.println(row(r));
        out.println();
        out.println("timed=experts: GEMM1 + SwiGLU + GEMM2 + top-k sum, routing/alignment apart in align_us (as the peer's peer_us); "
                + "timed=forward: the kernel is not staged, so its whole forward, routing included, is timed.");
        out.println("TFLOP/s = 2*M*topk*(H*2I + I*H) / us; GB/s counts the weights of the distinct experts hit, once "
                + "(fp8block: 1 byte per weight plus its float32 block scales); err = ||ours - cpu_reference|| / ||cpu_reference||.");
        out.flush();
    }

    static String row(BenchRow r) {
        String lead = "| %s | %s | %d | %s |".formatted(r.shape().name(), r.dtype().label(), r.tokens(), r.backend());
        String peer = r.peer().map(p -> num(p.peerUs(), 1)).orElse("no peer row");
        return switch (r) {
            case BenchRow.Measured m -> lead + " %d | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |".formatted(
                    m.expertsHit(), m.staged() ? "experts" : "forward", m.main().mode(), num(m.main().medianUs(), 1),
                    m.align().map(a -> num(a.medianUs(), 1)).orElse("-"), num(m.tflops(), 1), num(m.gbps(), 0),
                    num(m.pctHbm(), 1), peer, ratio(m.ratio()), error(m.error(), m.errorNote()));
            case BenchRow.Rejected x -> lead + " - | rejected | %s | - | - | - | - | - | %s | - | - |".formatted(
                    cell(x.rejection().toString()), peer);
            case BenchRow.Failed f -> lead + " - | failed | %s | - | - | - | - | - | %s | - | - |".formatted(cell(f.error()), peer);
        };
    }

    private static String ratio(OptionalDouble ratio) {
        return ratio.isPresent() ? num(ratio.getAsDouble(), 2) : "-";
    }

    private static String error(OptionalDouble error, String note) {
        if (error.isEmpty()) return note.isEmpty() ? "n/a" : cell(note);
        return Double.isNaN(error.getAsDouble()) ? "NaN (" + cell(note) + ")" : "%.1e".formatted(error.getAsDouble());
    }

    private static String num(double v, int decimals) {
        return String.format(Locale.ROOT, "%." + decimals + "f", v);
    }

    /** One table cell: no pipes, no line breaks. */
    private static String cell(String s) {
        return Optional.ofNullable(s).orElse("").replace('|', '/').replace('\n', ' ').strip();
    }
}
