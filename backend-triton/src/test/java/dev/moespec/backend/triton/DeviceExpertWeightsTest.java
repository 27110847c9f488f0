package dev.moespec.backend.triton;

import dev.moespec.api.tensor.HostTensors;
import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The host side of the fp16 path's weight upload: e4m3 bytes become the same values in fp16, padding untouched. */
class DeviceExpertWeightsTest {
    private static final ValueLayout.OfShort F16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    @Test
    void everyE4m3ValueIsHeldExactlyInFp16AndPaddingStaysZero() {
        int rows = 16, cols = 16, stride = 24; // 256 bytes: every e4m3 code once, rows padded by 8 columns
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment src = arena.allocate(rows * cols);
            for (int b = 0; b < 256; b++) src.set(ValueLayout.JAVA_BYTE, b, (byte) b);
            MemorySegment dst = arena.allocate(2L * rows * stride);
            DeviceExpertWeights.e4m3RowsToF16(src, dst, rows, cols, stride);
            for (int r = 0; r < rows; r++) {
                for (int c = 0; c < stride; c++) {
                    float got = Float.float16ToFloat(dst.get(F16, 2L * (r * stride + c)));
                    if (c >= cols) {
                        assertEquals(0, Float.floatToRawIntBits(got), "padding at row " + r + " column " + c);
                        continue;
                    }
                    float want = HostTensors.e4m3ToFloat((byte) (r * cols + c));
                    if (Float.isNaN(want)) {
                        assertTrue(Float.isNaN(got), "e4m3 NaN code 0x" + Integer.toHexString(r * cols + c));
                    } else {
                        assertEquals(Float.floatToRawIntBits(want), Float.floatToRawIntBits(got),
                                "e4m3 code 0x" + Integer.toHexString(r * cols + c) + " = " + want);
                    }
                }
            }
        }
    }
}
