package dev.moespec.proposers.heads;

import dev.moespec.api.proposer.DraftNetworkKind;
import dev.moespec.api.proposer.ProposalRequest;
import dev.moespec.api.proposer.ProposerSettings;
import dev.moespec.proposers.draft.RecordingNetwork;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;

/** FORMAT.md §5.0's entry layout and its rollback across verification steps, checked entry by entry. */
class FeatureHeadProposerTest {

    @Test
    void realEntriesPairNextTokensWithTargetFeaturesAndSpeculativeOnesWithTheHeadsOwnOutput() {
        RecordingNetwork net = new RecordingNetwork(DraftNetworkKind.EAGLE);
        FeatureHeadProposer p = new FeatureHeadProposer(new ProposerSettings(3, 1, 1, 100, RecordingNetwork.V), net);
        int[] h = {256, 10, 11, 12};
        List<float[]> features = new ArrayList<>();
        for (int t = 0; t < h.length - 1; t++) features.add(new float[] {t});
        for (int step = 0; step < 4; step++) {
            int n = h.length;
            int[] d = p.propose(new ProposalRequest(List.of(h), List.of(7L), List.of(features))).tokens(0);
            List<RecordingNetwork.Entry> entries = net.sequences.get(0);
            assertEquals(n - 1 + 2, entries.size(), "real entries 0..n-2, then k-1 speculative ones");
            for (int q = 0; q <= n - 2; q++) {
                assertEquals(h[q + 1], entries.get(q).token(), "entry " + q + " holds x_{q+1}");
                assertSame(features.get(q), entries.get(q).feature(), "entry " + q + " holds h_q");
            }
            for (int j = 1; j < 3; j++) {
                RecordingNetwork.Entry e = entries.get(n - 2 + j);
                assertEquals(d[j - 1], e.token(), "speculative entry holds d_{j-1}");
                assertSame(entries.get(n - 3 + j).output(), e.feature(), "and the previous entry's own output");
            }
            for (int j = 0; j < 3; j++) {
                assertEquals(RecordingNetwork.predict(entries.subList(0, n - 1 + j)), d[j], "d_" + j);
            }
            // verification: accept `step % 4` drafts (all 3 at step 3), then a correction or bonus token
            int accepted = step % 4;
            int[] next = Arrays.copyOf(h, n + accepted + 1);
            System.arraycopy(d, 0, next, n, accepted);
            next[next.length - 1] = 40 + step;
            for (int r = 0; r <= accepted; r++) features.add(new float[] {100 * (step + 1) + r});
            h = next;
        }
    }

    @Test
    void missingTargetFeaturesAreAnErrorNamingWhatIsNeeded() {
        FeatureHeadProposer p = new FeatureHeadProposer(new ProposerSettings(2, 1, 1, 100, RecordingNetwork.V),
                new RecordingNetwork(DraftNetworkKind.MTP));
        var e = assertThrows(IllegalStateException.class, () -> p.propose(ProposalRequest.of(new int[] {1, 2, 3})));
        assertEquals("MTP needs the target features h_0..h_1 of sequence 0 but the request carries 0; run it through an"
                + " engine that passes target features", e.getMessage());
    }

    @Test
    void aSingleTokenHistoryHasNoFeatureYetSoNoProposal() {
        FeatureHeadProposer p = new FeatureHeadProposer(new ProposerSettings(2, 1, 1, 100, RecordingNetwork.V),
                new RecordingNetwork(DraftNetworkKind.EAGLE));
        assertArrayEquals(new int[0], p.propose(ProposalRequest.of(new int[] {256})).tokens(0));
    }
}
