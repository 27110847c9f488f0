package dev.moespec.cuda;

import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertSame;

class KernelArgsTest {

    private static MemorySegment slot(MemorySegment params, int i) {
        return params.getAtIndex(ADDRESS, i).reinterpret(8);
    }

    @Test
    void packsOnePointerPerArgumentEachToAnAlignedSlotHoldingTheValue() {
        KernelArgs args = KernelArgs.create().f32(2.5f).ptr(0x7f00_1234_5678L).i32(-7).i64(1L << 40);
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment params = args.pack(arena);
            assertEquals(4 * ADDRESS.byteSize(), params.byteSize());
            assertEquals(2.5f, slot(params, 0).get(JAVA_FLOAT, 0));
            assertEquals(0x7f00_1234_5678L, slot(params, 1).get(JAVA_LONG, 0));
            assertEquals(-7, slot(params, 2).get(JAVA_INT, 0));
            assertEquals(1L << 40, slot(params, 3).get(JAVA_LONG, 0));
            for (int i = 0; i < 4; i++) {
                assertEquals(0, slot(params, i).address() % 8, "slot " + i + " is 8-byte aligned");
                if (i > 0) assertNotEquals(slot(params, i - 1).address(), slot(params, i).address());
            }
        }
    }

    @Test
    void packingTwiceGivesIndependentCopiesSoArgsCanBeReused() {
        KernelArgs args = KernelArgs.create().i32(11);
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment first = args.pack(arena);
            args.i32(12);
            MemorySegment second = args.pack(arena);
            assertEquals(11, slot(first, 0).get(JAVA_INT, 0));
            assertEquals(2 * ADDRESS.byteSize(), second.byteSize());
            assertEquals(12, slot(second, 1).get(JAVA_INT, 0));
        }
    }

    @Test
    void noArgumentsPackToNull() {
        try (Arena arena = Arena.ofConfined()) {
            assertSame(MemorySegment.NULL, KernelArgs.create().pack(arena));
        }
    }

    @Test
    void describesItselfForLaunchErrors() {
        KernelArgs args = KernelArgs.create().f32(1.5f).ptr(0xabcL).i32(3).i64(-4);
        assertEquals("(f32 1.5, ptr 0xabc, i32 3, i64 -4)", args.toString());
        assertEquals(4, args.size());
    }
}
