package dev.moespec.cli.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.moespec.cli.Moespec;
import dev.moespec.cuda.Cuda;
import dev.moespec.cuda.CudaAvailability;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import javax.imageio.ImageIO;
import java.awt.image.BufferedImage;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** {@code moespec bench moe} end to end, in-process, on the CPU reference (small M only: CI time). */
class BenchMoeCommandTest {

    private record Run(int exit, String out, String err) {}

    private static Run bench(String... args) {
        StringWriter out = new StringWriter(), err = new StringWriter();
        String[] full = new String[args.length + 2];
        full[0] = "bench";
        full[1] = "moe";
        System.arraycopy(args, 0, full, 2, args.length);
        int exit = Moespec.run(new PrintWriter(out, true), new PrintWriter(err, true), full);
        return new Run(exit, out.toString(), err.toString());
    }

    @Test
    void smallShapeOnTheCpuReferenceWritesTableJsonAndPlot(@TempDir Path dir) throws Exception {
        Path json = dir.resolve("bench.json"), png = dir.resolve("bench.png");
        Run r = bench("--backend", "cpu_reference", "--shapes", "small", "--tokens", "1,4", "--dtype", "bf16", "--reps", "2",
                "--json", json.toString(), "--plot", png.toString());
        assertEquals(0, r.exit, r.err);
        assertTrue(r.out.startsWith("# moespec bench moe: backend cpu_reference on "), r.out);
        assertTrue(r.out.contains("| shape | dtype | M | backend | hit | timed | mode | us | align_us | TFLOP/s | GB/s | % HBM | peer_us | ratio | err vs cpu_reference |"), r.out);
        assertTrue(r.out.contains("peer: peer_vllm_triton_fused_moe_fp8block_h100.json, peer_vllm_triton_fused_moe_h100.json (NVIDIA H100 80GB HBM3)"), r.out);
        assertTrue(r.out.contains("% HBM of 3.35 TB/s, from the anchors' meta"), r.out);
        assertTrue(r.out.matches("(?s).*\\| small \\| bf16 \\| 1 \\| cpu_reference \\| 2 \\| forward \\| host \\| [0-9.]+ \\| - \\| .*\\| 46\\.5 \\| [0-9.]+ \\| [0-9.]+e-0[34] \\|.*"), r.out);
        assertTrue(r.out.contains("| small | bf16 | 4 | cpu_reference |"), r.out);
        assertTrue(r.err.contains("[1/2] small bf16 M=1"), r.err);
        assertTrue(r.err.contains("[2/2] small bf16 M=4"), r.err);

        JsonNode root = new ObjectMapper().readTree(json.toFile());
        assertEquals("cpu_reference", root.at("/meta/backend").asText());
        assertEquals(3.35, root.at("/meta/hbm_tbs").asDouble());
        assertEquals(2, root.at("/meta/reps").asInt());
        JsonNode rows = root.get("rows");
        assertEquals(2, rows.size());
        for (JsonNode row : rows) {
            assertEquals("ok", row.get("status").asText());
            assertEquals("small", row.get("shape").asText());
            assertEquals(8, row.get("E").asInt());
            assertEquals(2, row.get("topk").asInt());
            assertEquals(1024, row.get("H").asInt());
            assertEquals(2816, row.get("I").asInt());
            assertEquals("forward", row.get("timed").asText());
            assertTrue(row.get("align_us").isNull());
            double us = row.get("us").asDouble();
            assertTrue(us > 0);
            assertEquals(row.get("peer_us").asDouble() / us, row.get("ratio").asDouble(), 1e-9);
            assertEquals(row.get("experts_hit").asInt() * 3L * 1024 * 2816 * 2, row.get("weight_bytes").asLong());
            assertEquals(2.0 * row.get("M").asInt() * 2 * (1024 * 2 * 2816 + 2816 * 1024), row.get("flops").asDouble());
            assertTrue(row.get("err").asDouble() < 3e-3, row.toString());
            assertEquals("host", row.at("/timing/main/mode").asText());
        }
        assertEquals(1, rows.get(0).get("M").asInt());
        assertEquals(46.5, rows.get(0).get("peer_us").asDouble(), 0.05);
        assertEquals(62.0, rows.get(1).get("peer_us").asDouble(), 0.05);

        BufferedImage img = ImageIO.read(png.toFile());
        assertNotNull(img, "not a PNG");
        assertEquals(560, img.getWidth());
        assertEquals(430, img.getHeight());
    }

    @Test
    void tinyShapeHasNoPeerRow() {
        Run r = bench("--backend", "cpu_reference", "--shapes", "tiny", "--tokens", "2", "--dtype", "fp8block", "--reps", "1");
        assertEquals(0, r.exit, r.err);
        assertTrue(r.out.contains("| tiny | fp8block | 2 | cpu_reference |"), r.out);
        assertTrue(r.out.contains("| no peer row | - |"), r.out);
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiter = ';', value = {
            "--dtype fp4; unknown dtype 'fp4' for --dtype; valid: bf16, fp8, fp8block",
            "--shapes llama; unknown shape 'llama' for --shapes; valid: mixtral, qwen3-30b-a3b, deepseek-v2-lite, small, tiny",
            "--tokens 0; --tokens must be >= 1, got 0",
            "--tokens x; Invalid value for option '--tokens'",
            "--reps 0; --reps must be >= 1, got 0",
            "--assume-device h100; --assume-device is not allowed for bench: a benchmark measures the real device",
            "--plot out.jpg; --plot writes a PNG: give a file name ending in .png, got out.jpg",
            "--backend tritn; tritn",
            "--bogus; Unknown option: '--bogus'"})
    void badFlagsExitTwoWithOneLine(String flags, String message) {
        String[] args = (flags + " --backend cpu_reference --shapes tiny --tokens 1").split(" ");
        if (flags.startsWith("--backend") || flags.startsWith("--shapes") || flags.startsWith("--tokens")) {
            args = flags.split(" "); // the flag under test must be the only one of its kind
        }
        Run r = bench(args);
        assertEquals(2, r.exit, r.out + r.err);
        assertTrue(r.err.startsWith("moespec: "), r.err);
        assertTrue(r.err.contains(message), r.err);
        assertEquals(1, r.err.strip().lines().count(), r.err);
    }

    @Test
    void aGpuBackendWithoutAGpuExitsTwoWithTheNoDeviceReason() {
        Assumptions.assumeFalse(Cuda.available() instanceof CudaAvailability.Available, "this machine has a GPU");
        Run r = bench("--backend", "triton", "--shapes", "tiny", "--tokens", "1");
        assertEquals(2, r.exit, r.out + r.err);
        assertTrue(r.err.startsWith("moespec: bench moe --backend triton needs a GPU: NO_DEVICE: "), r.err);
        assertEquals(1, r.err.strip().lines().count(), r.err);
    }
}
