package dev.moespec.api.tensor;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.EnumSource;

import java.lang.foreign.Arena;
import java.lang.foreign.ValueLayout;

import static org.junit.jupiter.api.Assertions.*;

class HostTensorsTest {

    @ParameterizedTest(name = "e4m3 {0} -> 0x{1}")
    @CsvSource({
            "0.0, 00", "-0.0, 80", "1.0, 38", "-2.0, C0", "448.0, 7E", "-448.0, FE",
            "0.015625, 08",      // 2^-6, smallest normal
            "0.001953125, 01",   // 2^-9, smallest subnormal
            "0.013671875, 07",   // 7 * 2^-9, largest subnormal
            "1.125, 39", "240.0, 77"})
    void e4m3KnownBitPatterns(float value, String hex) {
        byte bits = (byte) Integer.parseInt(hex, 16);
        assertEquals(bits, HostTensors.floatToE4m3(value));
        assertEquals(value, HostTensors.e4m3ToFloat(bits));
    }

    @Test
    void e4m3SaturatesInsteadOfOverflowing() {
        assertEquals((byte) 0x7E, HostTensors.floatToE4m3(449f));
        assertEquals((byte) 0x7E, HostTensors.floatToE4m3(1e6f));
        assertEquals((byte) 0xFE, HostTensors.floatToE4m3(Float.NEGATIVE_INFINITY));
        assertEquals((byte) 0x7E, HostTensors.floatToE4m3(Float.POSITIVE_INFINITY));
    }

    @Test
    void e4m3NanIsAllOnesMantissaAndExponent() {
        assertEquals((byte) 0x7F, HostTensors.floatToE4m3(Float.NaN));
        assertTrue(Float.isNaN(HostTensors.e4m3ToFloat((byte) 0x7F)));
        assertTrue(Float.isNaN(HostTensors.e4m3ToFloat((byte) 0xFF)));
        // 0x7E is finite: e4m3fn has no infinities
        assertEquals(448f, HostTensors.e4m3ToFloat((byte) 0x7E));
    }

    @Test
    void e4m3RoundsToNearestEven() {
        // between 1.0 (0x38, even) and 1.125 (0x39, odd): the tie goes to 1.0
        assertEquals((byte) 0x38, HostTensors.floatToE4m3(1.0625f));
        // between 1.125 (odd) and 1.25 (0x3A, even): the tie goes to 1.25
        assertEquals((byte) 0x3A, HostTensors.floatToE4m3(1.1875f));
        assertEquals((byte) 0x39, HostTensors.floatToE4m3(1.1f));
        // subnormal tie: 0.5 * 2^-9 -> 0, 1.5 * 2^-9 -> 2 * 2^-9
        assertEquals((byte) 0x00, HostTensors.floatToE4m3(0x1p-10f));
        assertEquals((byte) 0x02, HostTensors.floatToE4m3(0x1.8p-9f));
        // rounding up out of the subnormal range lands on the smallest normal
        assertEquals((byte) 0x08, HostTensors.floatToE4m3(7.75f * 0x1p-9f));
    }

    @Test
    void everyFiniteE4m3CodeRoundTrips() {
        for (int b = 0; b < 256; b++) {
            float v = HostTensors.e4m3ToFloat((byte) b);
            if (Float.isNaN(v)) continue;
            byte back = HostTensors.floatToE4m3(v);
            assertEquals(v, HostTensors.e4m3ToFloat(back), "code 0x" + Integer.toHexString(b));
        }
    }

    @Test
    void bf16RoundsToNearestEvenAndKeepsNan() {
        assertEquals((short) 0x3F80, HostTensors.floatToBf16(1f));
        // 1 + 2^-8 is halfway between 1.0 (even) and 1 + 2^-7: ties to even
        assertEquals((short) 0x3F80, HostTensors.floatToBf16(1f + 0x1p-8f));
        // 1 + 3*2^-8 is halfway between 1 + 2^-7 (odd) and 1 + 2^-6 (even)
        assertEquals((short) 0x3F82, HostTensors.floatToBf16(1f + 3 * 0x1p-8f));
        assertEquals((short) 0x3F81, HostTensors.floatToBf16(1f + 0x1.2p-8f));
        assertEquals((short) 0xC000, HostTensors.floatToBf16(-2f));
        assertTrue(Float.isNaN(HostTensors.bf16ToFloat(HostTensors.floatToBf16(Float.NaN))));
        // a NaN whose payload sits only in the low bits must not collapse to infinity
        float lowPayloadNan = Float.intBitsToFloat(0x7F800001);
        assertTrue(Float.isNaN(HostTensors.bf16ToFloat(HostTensors.floatToBf16(lowPayloadNan))));
        assertEquals(Float.POSITIVE_INFINITY, HostTensors.bf16ToFloat(HostTensors.floatToBf16(Float.MAX_VALUE)));
    }

    @ParameterizedTest
    @EnumSource(value = DType.class, names = {"F32", "BF16", "F16", "FP8_E4M3", "I32"})
    void fromFloatsAndToFloatsRoundTripRepresentableValues(DType dtype) {
        float[] values = {0f, 1f, -2f, 0.5f, 3f, -448f, 96f};
        try (Arena arena = Arena.ofConfined()) {
            Tensor t = HostTensors.fromFloats(arena, dtype, values, 7);
            if (dtype == DType.I32) {
                float[] expected = {0f, 1f, -2f, 0f, 3f, -448f, 96f}; // 0.5 rounds to even
                assertArrayEquals(expected, HostTensors.toFloats(t));
            } else {
                assertArrayEquals(values, HostTensors.toFloats(t));
            }
        }
    }

    @Test
    void storageIsLittleEndianWithDocumentedBitPatterns() {
        try (Arena arena = Arena.ofConfined()) {
            Tensor bf = HostTensors.fromFloats(arena, DType.BF16, new float[]{1f, -2f}, 2);
            assertEquals((byte) 0x80, bf.data().get(ValueLayout.JAVA_BYTE, 0));
            assertEquals((byte) 0x3F, bf.data().get(ValueLayout.JAVA_BYTE, 1));
            assertEquals((byte) 0xC0, bf.data().get(ValueLayout.JAVA_BYTE, 3));
            Tensor f16 = HostTensors.fromFloats(arena, DType.F16, new float[]{1f}, 1);
            assertEquals((byte) 0x3C, f16.data().get(ValueLayout.JAVA_BYTE, 1));
            Tensor fp8 = HostTensors.fromFloats(arena, DType.FP8_E4M3, new float[]{500f, -0.001953125f}, 2);
            assertEquals((byte) 0x7E, fp8.data().get(ValueLayout.JAVA_BYTE, 0));
            assertEquals((byte) 0x81, fp8.data().get(ValueLayout.JAVA_BYTE, 1));
        }
    }

    @Test
    void allocateZeroFillsAndSupportsEmptyShapes() {
        try (Arena arena = Arena.ofConfined()) {
            Tensor t = HostTensors.allocate(arena, DType.F32, 2, 3);
            assertArrayEquals(new float[6], HostTensors.toFloats(t));
            Tensor empty = HostTensors.allocate(arena, DType.BF16, 0, 5);
            assertEquals(0, HostTensors.toFloats(empty).length);
        }
    }

    @Test
    void errorsNameTheTensor() {
        try (Arena arena = Arena.ofConfined()) {
            Tensor t = HostTensors.allocate(arena, DType.F32, 2, 2);
            var oob = assertThrows(IndexOutOfBoundsException.class, () -> HostTensors.get(t, 4));
            assertEquals("index 4 out of bounds for F32[2, 2]", oob.getMessage());
            var mismatch = assertThrows(IllegalArgumentException.class,
                    () -> HostTensors.fromFloats(arena, DType.F32, new float[3], 2, 2));
            assertEquals("shape [2, 2] holds 4 elements but 3 values were given", mismatch.getMessage());
            Tensor device = Tensor.device(DType.F32, 0x1000, 2);
            var onDevice = assertThrows(IllegalArgumentException.class, () -> HostTensors.get(device, 0));
            assertEquals("tensor F32[2]@device lives on the device; copy it to the host first", onDevice.getMessage());
        }
    }
}
