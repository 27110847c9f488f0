package dev.moespec.engine.bench;

import com.fasterxml.jackson.databind.JsonNode;
import dev.moespec.api.device.DeviceProfiles;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Optional;
import java.util.OptionalDouble;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class BenchJsonTest {

    @Test
    void fp8blockRowsCarryTheBetterOfThePeersFp8Rows() {
        PeerAnchors peers = PeerAnchors.load(PeerAnchors.locate().orElseThrow());
        MoeBench.Config config = new MoeBench.Config("x", List.of(BenchShape.MIXTRAL), List.of(BenchDtype.FP8BLOCK), List.of(1), 20, true, 0);
        Timing t = new Timing(100.0, 99.0, 20, "graph");
        BenchRow.Measured row = new BenchRow.Measured(BenchShape.MIXTRAL, BenchDtype.FP8BLOCK, 1, "x",
                peers.row("mixtral", BenchDtype.FP8BLOCK, 1), 2, t, Optional.empty(), false, 1, 1, 1, 1, 1, OptionalDouble.empty(), "n/a: test");
        BenchReport report = new BenchReport(DeviceProfiles.byName("h100").orElseThrow(), "x", config, peers.hbmPeak(), peers, 1 << 27, "128 MiB written", List.of(row));
        JsonNode r = BenchJson.toJson(report).get("rows").get(0);
        assertEquals(181.8 / 100, r.get("ratio").asDouble(), 1e-3);
        assertEquals(160.2, r.get("peer_best_fp8_us").asDouble(), 0.05); // the per-tensor fp8 peer is faster here
        assertEquals(1.602, r.get("ratio_best_fp8").asDouble(), 1e-3);
        assertTrue(r.get("err").isNull());
        assertEquals("n/a: test", r.get("err_note").asText());
        assertEquals("graph", r.at("/timing/main/mode").asText());
    }
}
