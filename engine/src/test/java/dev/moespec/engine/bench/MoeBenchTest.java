package dev.moespec.engine.bench;

import dev.moespec.api.device.DeviceInfo;
import dev.moespec.moe.Eligibility;
import dev.moespec.moe.MoeBackendProvider;
import dev.moespec.moe.reference.CpuReferenceBackendProvider;
import dev.moespec.moe.registry.MoeBackendRegistry;
import dev.moespec.moe.registry.UnknownMoeBackendException;
import org.junit.jupiter.api.Test;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The harness end to end on the CPU, on the tiny shape, with the reference and test backends. */
class MoeBenchTest {
    private static final DeviceInfo CPU = DeviceInfo.cpu("test");

    private static MoeBackendRegistry registry(MoeBackendProvider... extra) {
        List<MoeBackendProvider> providers = new ArrayList<>(List.of(new CpuReferenceBackendProvider()));
        providers.addAll(List.of(extra));
        return MoeBackendRegistry.of(providers, List.of(), Set.of());
    }

    private static MoeBench.Config config(String backend, List<BenchDtype> dtypes, List<Integer> tokens) {
        return new MoeBench.Config(backend, List.of(BenchShape.TINY), dtypes, tokens, 2, true, 42);
    }

    private static BenchReport run(MoeBackendRegistry registry, MoeBench.Config config, List<String> progress) {
        return MoeBench.run(config, registry, CPU, PeerAnchors.none(), progress::add);
    }

    @Test
    void cpuReferenceRowsAreMeasuredInTheAnchorsOrderAndMatchTheReference() {
        List<String> progress = new ArrayList<>();
        BenchReport report = run(registry(), config("cpu_reference", List.of(BenchDtype.values()), List.of(4, 1)), progress);
        assertEquals(6, report.rows().size());
        // shape, then M, then dtype
        assertEquals(List.of(1, 1, 1, 4, 4, 4), report.rows().stream().map(BenchRow::tokens).toList());
        assertEquals(List.of(BenchDtype.BF16, BenchDtype.FP8, BenchDtype.FP8BLOCK),
                report.rows().subList(0, 3).stream().map(BenchRow::dtype).toList());
        for (BenchRow row : report.rows()) {
            BenchRow.Measured m = assertInstanceOf(BenchRow.Measured.class, row, row.toString());
            assertEquals("cpu_reference", m.backend());
            assertEquals("host", m.main().mode());
            assertEquals(2, m.main().reps());
            assertFalse(m.staged());
            assertTrue(m.align().isEmpty());
            assertTrue(m.expertsHit() >= 2 && m.expertsHit() <= Math.min(8, 2 * m.tokens()), "hit " + m.expertsHit());
            assertEquals(m.expertsHit() * m.dtype().expertBytes(BenchShape.TINY), m.weightBytes());
            assertEquals(m.weightBytes() / m.main().medianUs() / 1e3, m.gbps(), 1e-9 * m.gbps());
            assertEquals(2.0 * m.tokens() * 2 * (256 * 2 * 512 + 512 * 256) / m.main().medianUs() / 1e6, m.tflops(), 1e-9 * m.tflops());
            assertEquals(100 * m.gbps() / 3350, m.pctHbm(), 1e-9);
            // cpu_reference against itself on the hit experts only: only the bf16 output rounding remains
            assertTrue(m.error().isPresent(), m.errorNote());
            assertTrue(m.error().getAsDouble() < 3e-3, "err " + m.error().getAsDouble());
            assertTrue(m.peer().isEmpty());
            assertTrue(m.ratio().isEmpty());
        }
        assertEquals("[1/6] tiny bf16 M=1", progress.stream().filter(s -> s.startsWith("[")).findFirst().orElseThrow());
        assertEquals(6, progress.stream().filter(s -> s.startsWith("[")).count());
    }

    @Test
    void stagedKernelsAreTimedAsRouteAndExperts() {
        BenchReport report = run(registry(TestProviders.host("staged_test", TestProviders.Mode.STAGED)),
                config("staged_test", List.of(BenchDtype.BF16), List.of(3)), new ArrayList<>());
        BenchRow.Measured m = assertInstanceOf(BenchRow.Measured.class, report.rows().getFirst());
        assertTrue(m.staged());
        assertTrue(m.align().isPresent());
        assertEquals(2, m.align().get().reps());
        assertTrue(m.error().getAsDouble() < 3e-3, "err " + m.error().getAsDouble());
        String table = table(report);
        assertTrue(table.contains("| tiny | bf16 | 3 | staged_test |"), table);
        assertTrue(table.contains("| experts | host |"), table);
    }

    @Test
    void unwrittenOutputsShowAsNaNError() {
        BenchReport report = run(registry(TestProviders.host("half_writer", TestProviders.Mode.HALF_WRITES)),
                config("half_writer", List.of(BenchDtype.BF16), List.of(2)), new ArrayList<>());
        BenchRow.Measured m = assertInstanceOf(BenchRow.Measured.class, report.rows().getFirst());
        assertTrue(Double.isNaN(m.error().getAsDouble()));
        assertEquals("256 of 512 outputs are NaN (unwritten or broken)", m.errorNote());
    }

    @Test
    void rejectionsAndRefusalsPrintTheTypedReasonInsteadOfNumbers() {
        BenchReport picky = run(registry(TestProviders.host("bf16_only", TestProviders.Mode.BF16_ONLY)),
                config("bf16_only", List.of(BenchDtype.BF16, BenchDtype.FP8), List.of(1)), new ArrayList<>());
        assertInstanceOf(BenchRow.Measured.class, picky.rows().get(0));
        BenchRow.Rejected r = assertInstanceOf(BenchRow.Rejected.class, picky.rows().get(1));
        assertEquals(Eligibility.Reason.UNSUPPORTED_QUANTIZATION, r.rejection().reason());
        assertTrue(table(picky).contains("| tiny | fp8 | 1 | bf16_only | - | rejected | UNSUPPORTED_QUANTIZATION: bf16_only serves bf16 only |"),
                table(picky));

        BenchReport refused = run(registry(TestProviders.host("unwritten", TestProviders.Mode.REFUSES)),
                config("unwritten", List.of(BenchDtype.BF16), List.of(1, 2)), new ArrayList<>());
        for (BenchRow row : refused.rows()) {
            assertEquals(Eligibility.Reason.NOT_IMPLEMENTED, assertInstanceOf(BenchRow.Rejected.class, row).rejection().reason());
        }
    }

    @Test
    void autoResolvesPerRow() {
        BenchReport report = run(registry(), config("auto", List.of(BenchDtype.BF16), List.of(1)), new ArrayList<>());
        assertEquals("cpu_reference", report.rows().getFirst().backend());
    }

    @Test
    void aGpuBackendWithoutAGpuIsOneErrorNamingNoDevice() {
        BenchUnavailableException e = assertThrows(BenchUnavailableException.class,
                () -> run(registry(TestProviders.gpuOnly("gpu_test")), config("gpu_test", List.of(BenchDtype.BF16), List.of(1)), new ArrayList<>()));
        assertTrue(e.getMessage().startsWith("bench moe --backend gpu_test needs a GPU: NO_DEVICE: gpu_test runs on CUDA GPUs only"), e.getMessage());
    }

    @Test
    void unknownBackendListsTheAvailableOnes() {
        UnknownMoeBackendException e = assertThrows(UnknownMoeBackendException.class,
                () -> run(registry(), config("tritn", List.of(BenchDtype.BF16), List.of(1)), new ArrayList<>()));
        assertTrue(e.getMessage().contains("cpu_reference"), e.getMessage());
    }

    @Test
    void badConfigsAreRefused() {
        assertThrows(IllegalArgumentException.class, () -> config("cpu_reference", List.of(BenchDtype.BF16), List.of(0, 4)));
        assertThrows(IllegalArgumentException.class, () -> config("cpu_reference", List.of(), List.of(1)));
        assertThrows(IllegalArgumentException.class,
                () -> new MoeBench.Config("cpu_reference", List.of(BenchShape.TINY), List.of(BenchDtype.BF16), List.of(1), 0, true, 1));
    }

    private static String table(BenchReport report) {
        StringWriter s = new StringWriter();
        BenchTable.print(report, new PrintWriter(s));
        return s.toString();
    }
}
