package dev.moespec.engine.loader;

import dev.moespec.api.tensor.DType;
import dev.moespec.api.tensor.HostTensors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.lang.foreign.Arena;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/** The header parser under mutation: every outcome is a clean load or a {@link CheckpointException}. */
class SafetensorsFuzzTest {
    private static final int ITERATIONS = 3000;

    @TempDir
    Path dir;

    private static byte[] sample() {
        float[] a = new float[24];
        for (int i = 0; i < a.length; i++) a[i] = i * 0.25f - 2f;
        return new SafetensorsWriter()
                .addFloats("a.weight", DType.F32, a, 4, 6)
                .addFloats("b.weight", DType.BF16, Arrays.copyOf(a, 12), 3, 4)
                .addFloats("q.weight", DType.FP8_E4M3, Arrays.copyOf(a, 16), 2, 8)
                .addFloats("q.weight_scale_inv", DType.F32, new float[]{0.5f}, 1, 1)
                .addFloats("h.weight", DType.F16, Arrays.copyOf(a, 4), 4)
                .bytes();
    }

    @Test
    void unmutatedFileLoadsAndReadsBackItsValues() throws Exception {
        Path f = Files.write(dir.resolve("ok.safetensors"), sample());
        try (Arena arena = Arena.ofConfined()) {
            SafetensorsFile st = SafetensorsFile.open(f, arena);
            assertEquals(5, st.entries().size());
            assertEquals(-2f + 23 * 0.25f, HostTensors.get(st.tensor("a.weight"), 23));
            assertEquals(-1.75f, HostTensors.get(st.tensor("b.weight"), 1));
            assertEquals(DType.FP8_E4M3, st.tensor("q.weight").dtype());
            assertEquals(-1.5f, HostTensors.get(st.tensor("q.weight"), 2));
            assertEquals("pt", st.header().metadata().get("format"));
        }
    }

    @Test
    void seededMutationsEitherLoadOrFailTyped() throws Exception {
        byte[] base = sample();
        long headerLen = ByteBuffer.wrap(base).order(ByteOrder.LITTLE_ENDIAN).getLong(0);
        SplittableRandom random = new SplittableRandom(20260527L);
        int loaded = 0, refused = 0;
        for (int it = 0; it < ITERATIONS; it++) {
            byte[] mutated = mutate(base, (int) headerLen, random);
            Path f = Files.write(dir.resolve("m" + (it % 16) + ".safetensors"), mutated);
            try (Arena arena = Arena.ofConfined()) {
                SafetensorsFile st = SafetensorsFile.open(f, arena);
                // a load that succeeds must give tensors whose bytes lie inside the mapping
                for (String name : st.entries().keySet()) {
                    var t = st.tensor(name);
                    if (t.elementCount() > 0) HostTensors.get(t, t.elementCount() - 1);
                }
                loaded++;
            } catch (CheckpointException e) {
                assertTrue(e.getMessage().contains(f.toString()), "names the file: " + e.getMessage());
                refused++;
            } catch (Throwable t) {
                fail("iteration " + it + ": " + t + " on header " + new String(mutated, 8,
                        Math.max(0, Math.min(mutated.length - 8, (int) headerLen)), StandardCharsets.ISO_8859_1), t);
            }
        }
        assertTrue(loaded > 0 && refused > ITERATIONS / 4, "loaded " + loaded + ", refused " + refused);
    }

    /** One of: byte flips, truncation, a new length prefix, an edited offset, dtype or shape. */
    private static byte[] mutate(byte[] base, int headerLen, SplittableRandom r) {
        byte[] b = base.clone();
        String header = new String(b, 8, headerLen, StandardCharsets.UTF_8);
        return switch (r.nextInt(7)) {
            case 0 -> {
                for (int i = 0, n = 1 + r.nextInt(4); i < n; i++) b[8 + r.nextInt(headerLen)] ^= (byte) (1 << r.nextInt(8));
                yield b;
            }
            case 1 -> Arrays.copyOf(b, r.nextInt(b.length));
            case 2 -> {
                long[] lengths = {0, 1, headerLen - 1, headerLen + 8, b.length, Long.MAX_VALUE, -1, r.nextLong()};
                ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN).putLong(0, lengths[r.nextInt(lengths.length)]);
                yield b;
            }
            case 3 -> rewrite(b, headerLen, header.replaceFirst("\\[(\\d+),(\\d+)]", "[" + number(r) + "," + number(r) + "]"));
            case 4 -> rewrite(b, headerLen, header.replaceFirst("\"(F32|BF16|F16|F8_E4M3)\"",
                    "\"" + new String[]{"F64", "BF16", "F32", "F8_E4M3", "I8", "", "f32"}[r.nextInt(7)] + "\""));
            case 5 -> rewrite(b, headerLen, header.replaceFirst("\"shape\":\\[[0-9,]*]",
                    "\"shape\":" + new String[]{"[]", "[0]", "[-1,4]", "[4,6,1]", "[1e3]", "[\"4\"]", "[9999999999,9999999999]"}[r.nextInt(7)]));
            default -> rewrite(b, headerLen, header.substring(0, r.nextInt(header.length())));
        };
    }

    private static String number(SplittableRandom r) {
        return String.valueOf(new long[]{0, 1, 7, 96, 120, 1000, -5, Long.MAX_VALUE}[r.nextInt(8)] + r.nextInt(3));
    }

    /** Replaces the header text, keeping the data buffer and fixing the length prefix. */
    private static byte[] rewrite(byte[] b, int headerLen, String header) {
        byte[] h = header.getBytes(StandardCharsets.UTF_8);
        ByteBuffer out = ByteBuffer.allocate(8 + h.length + b.length - 8 - headerLen).order(ByteOrder.LITTLE_ENDIAN);
        out.putLong(h.length).put(h).put(b, 8 + headerLen, b.length - 8 - headerLen);
        return out.array();
    }

    @Test
    void overlappingRangesNameBothTensors() throws Exception {
        byte[] b = sample();
        long headerLen = ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN).getLong(0);
        String header = new String(b, 8, (int) headerLen, StandardCharsets.UTF_8);
        // b.weight (24 bytes at 96) moved onto a.weight's bytes
        Path f = Files.write(dir.resolve("overlap.safetensors"), rewrite(b, (int) headerLen, header.replace("[96,120]", "[72,96]")));
        var e = assertThrows(CheckpointException.class, () -> SafetensorsFile.open(f, Arena.ofAuto()));
        assertTrue(e.getMessage().contains("overlap tensor 'a.weight'"), e.getMessage());
        assertEquals("b.weight", e.tensor().orElseThrow());
    }

    @Test
    void sizeMismatchNamesTensorAndBytes() throws Exception {
        byte[] b = sample();
        long headerLen = ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN).getLong(0);
        String header = new String(b, 8, (int) headerLen, StandardCharsets.UTF_8);
        Path f = Files.write(dir.resolve("shape.safetensors"), rewrite(b, (int) headerLen, header.replace("[4,6]", "[5,6]")));
        var e = assertThrows(CheckpointException.class, () -> SafetensorsFile.open(f, Arena.ofAuto()));
        assertTrue(e.getMessage().contains("tensor 'a.weight'") && e.getMessage().contains("needs 120 bytes"), e.getMessage());
    }

    @Test
    void truncatedDataIsRefusedNamingTheLastTensor() throws Exception {
        byte[] b = sample();
        Path f = Files.write(dir.resolve("trunc.safetensors"), Arrays.copyOf(b, b.length - 3));
        var e = assertThrows(CheckpointException.class, () -> SafetensorsFile.open(f, Arena.ofAuto()));
        assertTrue(e.getMessage().contains("outside the") && e.tensor().isPresent(), e.getMessage());
    }
}
