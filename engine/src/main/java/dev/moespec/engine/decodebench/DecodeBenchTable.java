package dev.moespec.engine.decodebench;

import dev.moespec.engine.cuda.StepRegion;

import java.util.List;
import java.util.Locale;

/** The text table of {@code bench decode}: one line per device, batch and graph mode. */
public final class DecodeBenchTable {
    private DecodeBenchTable() {}

    public static String render(List<DecodeBenchRow> rows) {
        StringBuilder sb = new StringBuilder();
        sb.append(String.format(Locale.ROOT, "%-26s %5s %6s %9s %10s | %9s %6s %6s %8s %6s | %6s %6s%n", "device", "batch", "graphs",
                "step ms", "tokens/s", "attention", "moe", "dense", "sampling", "other", "java", "host"));
        for (DecodeBenchRow r : rows) {
            sb.append(String.format(Locale.ROOT, "%-26s %5d %6s %9.3f %10.1f | ", truncate(r.device(), 26), r.batch(), r.graphs(),
                    r.stepMillis(), r.tokensPerSecond()));
            if (r.regionShare().isEmpty()) {
                sb.append(String.format(Locale.ROOT, "%9s %6s %6s %8s %6s | %6s %6s%n", "n/a", "n/a", "n/a", "n/a", "n/a", "n/a", "n/a"));
            } else {
                sb.append(String.format(Locale.ROOT, "%9s %6s %6s %8s %6s | %6s %6s%n", pct(r, StepRegion.ATTENTION), pct(r, StepRegion.MOE),
                        pct(r, StepRegion.DENSE_GEMM), pct(r, StepRegion.SAMPLING), pct(r, StepRegion.OTHER),
                        String.format(Locale.ROOT, "%.1f%%", 100 * r.javaShare()), String.format(Locale.ROOT, "%.1f%%", 100 * r.hostShare())));
            }
        }
        return sb.toString();
    }

    private static String pct(DecodeBenchRow r, StepRegion region) {
        return String.format(Locale.ROOT, "%.1f%%", 100 * r.regionShare().getOrDefault(region, 0.0));
    }

    private static String truncate(String s, int n) {
        return s.length() <= n ? s : s.substring(0, n);
    }
}
