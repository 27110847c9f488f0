package dev.moespec.proposers.ngram;

import dev.moespec.api.proposer.ProposerSettings;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.util.Arrays;
import java.util.Random;
import java.util.stream.IntStream;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

/** The O(L) KMP scan against a quadratic brute force that states the rule literally, on seeded random histories. */
class SuffixMatcherPropertyTest {

    private static final int HISTORIES_PER_CASE = 300;

    static Stream<Arguments> bounds() {
        return IntStream.rangeClosed(1, 4).boxed().flatMap(min -> IntStream.of(0, 1, 3, 7).boxed()
                .flatMap(extra -> IntStream.of(1, 2, 5).mapToObj(k -> Arguments.of(min, min + extra, k))));
    }

    @ParameterizedTest(name = "min={0} max={1} k={2}")
    @MethodSource("bounds")
    void matchesTheBruteForceOracle(int min, int max, int k) {
        Random random = new Random(31L * (31L * min + max) + k);
        for (int trial = 0; trial < HISTORIES_PER_CASE; trial++) {
            int alphabet = 2 + random.nextInt(3);  // 2..4 symbols: matches of every length are common
            int[] history = random.ints(random.nextInt(40), 0, alphabet).toArray();
            int maxModelLen = Math.max(1, history.length - 2 + random.nextInt(k + 4));
            String where = "history " + Arrays.toString(history) + ", max_model_len " + maxModelLen;

            assertEquals(bruteContinuationStart(history, min, max),
                    SuffixMatcher.continuationStart(history, min, max), where);
            var proposer = new NgramProposer(new ProposerSettings(k, min, max, maxModelLen, alphabet));
            assertArrayEquals(bruteProposal(history, min, max, k, maxModelLen), proposer.proposeOne(history), where);
        }
    }

    /** Longest n from max down to min; for it, the latest start s whose occurrence ends before the last token. */
    private static int bruteContinuationStart(int[] h, int min, int max) {
        int length = h.length;
        for (int n = Math.min(max, length - 1); n >= min; n--) {
            for (int s = length - 1 - n; s >= 0; s--) {
                if (Arrays.equals(h, s, s + n, h, length - n, length)) return s + n;
            }
        }
        return -1;
    }

    private static int[] bruteProposal(int[] h, int min, int max, int k, int maxModelLen) {
        int start = bruteContinuationStart(h, min, max);
        int count = Math.min(k, maxModelLen - h.length);
        if (start < 0 || count <= 0) return new int[0];
        return Arrays.copyOfRange(h, start, Math.min(h.length, start + count));
    }
}
