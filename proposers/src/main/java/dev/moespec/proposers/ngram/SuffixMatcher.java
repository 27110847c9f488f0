package dev.moespec.proposers.ngram;

/**
 * Finds where to continue from in a token history: the longest suffix n-gram (n in [minN, maxN]) that also occurs
 * earlier, and among its earlier occurrences the most recent one.
 *
 * <p>Like vLLM's n-gram proposer, this runs KMP over the reversed history: the history's suffix becomes the
 * pattern's prefix, so one left-to-right scan with a failure function bounded by maxN finds, for every earlier
 * end position, the longest suffix that ends there. O(L) time, O(maxN) memory, no copy of the history.
 */
final class SuffixMatcher {

    private SuffixMatcher() {}

    /**
     * Index in {@code history} of the first token after the chosen earlier occurrence, or {@code -1} when no suffix
     * of length at least {@code minN} occurs earlier. Occurrences may overlap the suffix ("a a a a" matches "a a a"
     * at 0), but always end before the last token, so a returned index is below {@code history.length}.
     */
    static int continuationStart(int[] history, int minN, int maxN) {
        int length = history.length;
        if (length < minN + 1) return -1;
        // An earlier occurrence ends before the last token, so no match is longer than length - 1.
        int cap = Math.min(maxN, length - 1);
        int[] lps = new int[cap];    // failure function of the pattern rev[0, cap)
        int last = length - 1;       // rev[j] = history[last - j]
        int longest = 0;
        int position = 0;            // index in rev where the most recent longest match ends
        int matched = 0;
        int i = 1;
        while (i < length) {
            if (history[last - matched] == history[last - i]) {
                matched++;
                // Strictly greater: the first (smallest i, i.e. most recent) end of each new length is kept.
                if (matched > longest) {
                    longest = matched;
                    position = i;
                    if (longest == cap) break;  // nothing longer is allowed; later i are older occurrences
                }
                if (i < cap) lps[i] = matched;
                if (matched == cap) matched = lps[cap - 1];
                i++;
            } else if (matched != 0) {
                matched = lps[matched - 1];
            } else {
                i++;
            }
        }
        if (longest < minN) return -1;
        // rev[position - longest + 1 .. position] is history[last - position .. last - position + longest - 1].
        return last - position + longest;
    }
}
