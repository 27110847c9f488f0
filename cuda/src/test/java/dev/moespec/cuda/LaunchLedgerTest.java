package dev.moespec.cuda;

import org.junit.jupiter.api.Test;

import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/** The ledger's bookkeeping without a GPU: scopes, captures and snapshots (launches are fed in directly). */
class LaunchLedgerTest {

    @Test
    void launchesAreCountedUnderTheInnermostScopeAndScopesRestoreTheirOuterRole() {
        LaunchCounts before = LaunchLedger.snapshot();
        try (LaunchLedger.Scope target = LaunchLedger.scope("t-target")) {
            LaunchLedger.launched("img-a");
            try (LaunchLedger.Scope draft = LaunchLedger.scope("t-draft")) {
                LaunchLedger.launched("img-b");
                LaunchLedger.launched("img-b");
            }
            assertEquals("t-target", LaunchLedger.currentRole());
            LaunchLedger.launched("img-a");
        }
        assertEquals(LaunchLedger.UNSCOPED, LaunchLedger.currentRole());
        LaunchCounts d = LaunchLedger.snapshot().since(before);
        assertEquals(2, d.count("t-target", "img-a"));
        assertEquals(2, d.count("t-draft", "img-b"));
        assertEquals(0, d.count("t-draft", "img-a"));
        assertEquals(Map.of("t-draft", Map.of("img-b", 2L), "t-target", Map.of("img-a", 2L)), d.byRole());
    }

    @Test
    void aCaptureCollectsLaunchesAndEachReplayAddsThem() {
        LaunchCounts before = LaunchLedger.snapshot();
        Map<LaunchCounts.Key, Long> tally;
        try (LaunchLedger.Scope s = LaunchLedger.scope("t-capture")) {
            tally = LaunchLedger.beginCapture();
            LaunchLedger.launched("img-c");
            LaunchLedger.launched("img-c");
            LaunchLedger.endCapture();
        }
        assertEquals(0, LaunchLedger.snapshot().since(before).total("t-capture"));
        LaunchLedger.replayed(tally);
        LaunchLedger.replayed(tally);
        assertEquals(4, LaunchLedger.snapshot().since(before).count("t-capture", "img-c"));
    }

    @Test
    void aBlankRoleIsRefused() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> LaunchLedger.scope(" "));
        assertEquals("a launch scope needs a role name, got a blank one", e.getMessage());
    }

    @Test
    void aPluginKernelResourceIsNamedByItsArtifactId() {
        assertEquals("moespec-backend-triton", CudaModule.imageName(CudaModule.kernelResource("moespec-backend-triton")));
        assertEquals("in-memory kernel image of 12 bytes", CudaModule.imageName("in-memory kernel image of 12 bytes"));
    }
}
