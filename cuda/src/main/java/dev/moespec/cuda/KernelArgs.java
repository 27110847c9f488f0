package dev.moespec.cuda;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.SegmentAllocator;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.StringJoiner;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * A kernel's arguments, in the order of its C parameters: {@code KernelArgs.create().f32(a).ptr(x).ptr(y).i32(n)}.
 * Types must match the kernel's signature exactly (the driver cannot check): {@code ptr} for any pointer,
 * {@code i32} for {@code int}, {@code i64} for {@code long long}/{@code size_t}, {@code f32} for {@code float}.
 *
 * <p>{@link #pack} lays them out as {@code cuLaunchKernel}'s {@code void** kernelParams}: an array of one
 * pointer per argument, each pointing at its own 8-byte, 8-aligned slot holding the value.
 */
public final class KernelArgs {
    private enum Kind { PTR, I32, I64, F32 }

    private record Arg(Kind kind, long bits) {}

    private static final long SLOT = 8;

    private final List<Arg> args = new ArrayList<>();

    private KernelArgs() {}

    public static KernelArgs create() {
        return new KernelArgs();
    }

    /** A device pointer. */
    public KernelArgs ptr(long address) {
        return add(Kind.PTR, address);
    }

    /** The buffer's device pointer, taken now (the buffer must be open). */
    public KernelArgs ptr(DeviceBuffer buffer) {
        return ptr(Objects.requireNonNull(buffer, "buffer").address());
    }

    public KernelArgs i32(int value) {
        return add(Kind.I32, value);
    }

    public KernelArgs i64(long value) {
        return add(Kind.I64, value);
    }

    public KernelArgs f32(float value) {
        return add(Kind.F32, Float.floatToRawIntBits(value));
    }

    public int size() {
        return args.size();
    }

    /** The {@code void**} array, allocated from {@code allocator}; NULL when there are no arguments. */
    public MemorySegment pack(SegmentAllocator allocator) {
        int n = args.size();
        if (n == 0) return MemorySegment.NULL;
        MemorySegment params = allocator.allocate(ADDRESS, n);
        MemorySegment slots = allocator.allocate(SLOT * n, SLOT);
        for (int i = 0; i < n; i++) {
            Arg a = args.get(i);
            MemorySegment slot = slots.asSlice(SLOT * i, SLOT);
            switch (a.kind()) {
                case PTR, I64 -> slot.set(JAVA_LONG, 0, a.bits());
                case I32, F32 -> slot.set(JAVA_INT, 0, (int) a.bits());
            }
            params.setAtIndex(ADDRESS, i, slot);
        }
        return params;
    }

    private KernelArgs add(Kind kind, long bits) {
        args.add(new Arg(kind, bits));
        return this;
    }

    /** {@code (f32 2.5, ptr 0x7f0000000000, i32 1024)}, for launch errors. */
    @Override
    public String toString() {
        StringJoiner j = new StringJoiner(", ", "(", ")");
        for (Arg a : args) {
            j.add(switch (a.kind()) {
                case PTR -> "ptr 0x" + Long.toHexString(a.bits());
                case I32 -> "i32 " + (int) a.bits();
                case I64 -> "i64 " + a.bits();
                case F32 -> "f32 " + Float.intBitsToFloat((int) a.bits());
            });
        }
        return j.toString();
    }
}
