package dev.moespec.proposers.draft;

import dev.moespec.api.proposer.DraftNetworkKind;
import dev.moespec.api.proposer.ProposalRequest;
import dev.moespec.api.proposer.ProposerSettings;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

class DraftModelProposerTest {

    /** What a greedy draft model drafts after {@code history}, computed from scratch. */
    private static int[] oracle(int[] history, int k) {
        return RecordingNetwork.greedy(history, k);
    }

    @Test
    void rollsTheDraftCacheBackToWhatTheTargetKeptAndFeedsOnlyTheRest() {
        RecordingNetwork net = new RecordingNetwork(DraftNetworkKind.DRAFT_MODEL);
        ProposerSettings s = new ProposerSettings(3, 1, 1, 100, RecordingNetwork.V);
        DraftModelProposer p = new DraftModelProposer(s, net);
        int[] h = {5, 6, 7};
        for (int step = 0; step < 4; step++) {
            int[] d = p.propose(ProposalRequest.of(h)).tokens(0);
            assertArrayEquals(oracle(h, 3), d, "step " + step);
            // the cache holds the history plus all drafts but the last (which was never fed)
            assertEquals(h.length + 2, net.length(0));
            // the target accepts `step % 3` drafts, then commits a correction token
            int accepted = step % 3;
            int[] next = java.util.Arrays.copyOf(h, h.length + accepted + 1);
            System.arraycopy(d, 0, next, h.length, accepted);
            next[next.length - 1] = (d[accepted] + 1) % RecordingNetwork.V;
            h = next;
        }
        assertEquals(4 * 3, net.forwards, "k forwards per step, the first one a chunk of the new tokens");
    }

    @Test
    void batchesSequencesAndReleasesThem() {
        RecordingNetwork net = new RecordingNetwork(DraftNetworkKind.DRAFT_MODEL);
        DraftModelProposer p = new DraftModelProposer(new ProposerSettings(2, 1, 1, 100, RecordingNetwork.V), net);
        int[] a = {1, 2, 3}, b = {9, 8};
        var proposal = p.propose(new ProposalRequest(List.of(a, b), List.of(10L, 20L), List.of(List.of(), List.of())));
        assertArrayEquals(oracle(a, 2), proposal.tokens(0));
        assertArrayEquals(oracle(b, 2), proposal.tokens(1));
        assertEquals(2, net.forwards, "one batched forward per drafted position");
        p.release(10L);
        assertEquals(1, net.sequences.size());
    }

    @Test
    void neverProposesPastMaxModelLen() {
        DraftModelProposer p = new DraftModelProposer(new ProposerSettings(4, 1, 1, 5, RecordingNetwork.V),
                new RecordingNetwork(DraftNetworkKind.DRAFT_MODEL));
        assertEquals(1, p.propose(ProposalRequest.of(new int[] {1, 2, 3, 4})).tokens(0).length);
        assertEquals(0, p.propose(ProposalRequest.of(new int[] {1, 2, 3, 4, 5})).tokens(0).length);
    }

    @Test
    void aContextWithoutAnEngineCannotBuildADraftNetwork() {
        var e = assertThrows(IllegalStateException.class, () -> new DraftModelProposerProvider()
                .create(new ProposerSettings(2, 1, 1, 100, 320)));
        assertEquals("this proposer context has no engine behind it, so it cannot build a DRAFT_MODEL drafter network;"
                + " create the proposer through the engine (moespec generate), or use a model-free method such as ngram",
                e.getMessage());
    }
}
