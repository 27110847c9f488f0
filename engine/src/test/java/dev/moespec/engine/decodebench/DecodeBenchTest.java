package dev.moespec.engine.decodebench;

import dev.moespec.api.device.DeviceInfo;
import dev.moespec.engine.cuda.StepRegion;
import dev.moespec.engine.loader.DemoModels;
import org.junit.jupiter.api.Test;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The CPU half of {@code bench decode} and its table. */
class DecodeBenchTest {

    @Test
    void cpuRowsHaveThroughputAndNoRegionSplit() {
        StringWriter progress = new StringWriter();
        List<DecodeBenchRow> rows = DecodeBench.run(new DecodeBench.Options(DemoModels.target(), "auto", new int[]{1, 3}, 2, 1,
                true, false, 8L << 20, 0), DeviceInfo.cpu("test"), getClass().getClassLoader(), new PrintWriter(progress));
        assertEquals(2, rows.size());
        assertEquals(List.of(1, 3), rows.stream().map(DecodeBenchRow::batch).toList());
        for (DecodeBenchRow r : rows) {
            assertEquals("cpu", r.device());
            assertTrue(r.stepMillis() > 0 && r.tokensPerSecond() > 0, r.toString());
            assertEquals(r.batch() * 1000.0 / r.stepMillis(), r.tokensPerSecond(), 1e-9);
            assertTrue(r.regionShare().isEmpty());
        }
        assertTrue(progress.toString().contains("cpu batch 3"), progress.toString());
        String table = DecodeBenchTable.render(rows);
        assertTrue(table.lines().count() == 3 && table.contains("n/a"), table);
    }

    @Test
    void tableShowsSharesAsPercent() {
        DecodeBenchRow gpu = new DecodeBenchRow("NVIDIA H100 80GB HBM3", 1, "on", 0.5, 2000,
                Map.of(StepRegion.ATTENTION, 0.1, StepRegion.MOE, 0.4, StepRegion.DENSE_GEMM, 0.2, StepRegion.SAMPLING, 0.05,
                        StepRegion.OTHER, 0.05), 0.08, 0.2);
        String line = DecodeBenchTable.render(List.of(gpu)).lines().skip(1).findFirst().orElseThrow();
        assertTrue(line.matches(".*\\| +10\\.0% +40\\.0% +20\\.0% +5\\.0% +5\\.0% \\| +8\\.0% +20\\.0%"), line);
    }

    @Test
    void batchesAboveOneDecodeStepAreRefused() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> new DecodeBench.Options(DemoModels.target(), "auto",
                new int[]{65}, 2, 1, true, false, 1L << 20, 0));
        assertTrue(e.getMessage().contains("1..64"), e.getMessage());
    }
}
