package dev.moespec.api.plugin;

import java.util.Collection;
import java.util.Locale;
import java.util.Optional;

/** Name handling shared by every plugin registry: normalisation like vLLM's, and "did you mean". */
public final class PluginNames {
    private PluginNames() {}

    /** {@code "FlashInfer-TRTLLM"} → {@code "flashinfer_trtllm"}: trimmed, lower-cased, '-' → '_'. */
    public static String normalize(String name) {
        return name.strip().toLowerCase(Locale.ROOT).replace('-', '_');
    }

    /**
     * The candidate closest to {@code name} by edit distance, if it is close enough to be a plausible typo
     * (distance at most a third of the longer name, at least 1), or a candidate that contains it.
     */
    public static Optional<String> closest(String name, Collection<String> candidates) {
        String n = normalize(name);
        String best = null;
        int bestDistance = Integer.MAX_VALUE;
        for (String c : candidates) {
            int d = distance(n, c);
            if (d < bestDistance) {
                best = c;
                bestDistance = d;
            }
        }
        if (best == null) return Optional.empty();
        int allowed = Math.max(1, Math.max(n.length(), best.length()) / 3);
        if (bestDistance <= allowed) return Optional.of(best);
        return candidates.stream().filter(c -> !n.isEmpty() && (c.contains(n) || n.contains(c))).findFirst();
    }

    /**
     * Optimal-string-alignment distance: Levenshtein plus the swap of two neighbouring letters as one edit,
     * the most common typo in a name ("ngarm" is one edit from "ngram", "tirton" one from "triton").
     */
    static int distance(String a, String b) {
        int[][] d = new int[a.length() + 1][b.length() + 1];
        for (int i = 0; i <= a.length(); i++) d[i][0] = i;
        for (int j = 0; j <= b.length(); j++) d[0][j] = j;
        for (int i = 1; i <= a.length(); i++) {
            for (int j = 1; j <= b.length(); j++) {
                int cost = a.charAt(i - 1) == b.charAt(j - 1) ? 0 : 1;
                d[i][j] = Math.min(d[i - 1][j - 1] + cost, Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1));
                if (i > 1 && j > 1 && a.charAt(i - 1) == b.charAt(j - 2) && a.charAt(i - 2) == b.charAt(j - 1)) {
                    d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
                }
            }
        }
        return d[a.length()][b.length()];
    }
}
