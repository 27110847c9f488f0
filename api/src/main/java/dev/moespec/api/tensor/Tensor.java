package dev.moespec.api.tensor;

import java.lang.foreign.MemorySegment;
import java.util.Arrays;
import java.util.Objects;

/**
 * A dense, row-major view of memory owned by someone else (an arena, a device allocation). Host tensors
 * are readable segments; device tensors carry the device pointer as a zero-length segment's address and
 * must only be handed to device code.
 *
 * @param dtype     element type
 * @param shape     sizes, outermost first
 * @param data      host memory, or a device address wrapped with {@link MemorySegment#ofAddress}
 * @param placement where {@code data} lives
 */
public record Tensor(DType dtype, long[] shape, MemorySegment data, Placement placement) {

    public enum Placement { HOST, DEVICE }

    public Tensor {
        Objects.requireNonNull(dtype, "dtype");
        Objects.requireNonNull(data, "data");
        Objects.requireNonNull(placement, "placement");
        shape = shape.clone();
        for (long d : shape) {
            if (d < 0) throw new IllegalArgumentException("negative dimension in shape " + Arrays.toString(shape));
        }
        if (placement == Placement.HOST && data.byteSize() < elementCount(shape) * dtype.byteSize()) {
            throw new IllegalArgumentException("segment of " + data.byteSize() + " bytes is too small for "
                    + dtype + Arrays.toString(shape));
        }
    }

    public static Tensor host(DType dtype, MemorySegment data, long... shape) {
        return new Tensor(dtype, shape, data, Placement.HOST);
    }

    public static Tensor device(DType dtype, long address, long... shape) {
        return new Tensor(dtype, shape, MemorySegment.ofAddress(address), Placement.DEVICE);
    }

    @Override
    public long[] shape() {
        return shape.clone();
    }

    public int rank() {
        return shape.length;
    }

    public long dim(int i) {
        return shape[i];
    }

    public long elementCount() {
        return elementCount(shape);
    }

    public long byteSize() {
        return elementCount() * dtype.byteSize();
    }

    public boolean isHost() {
        return placement == Placement.HOST;
    }

    /** {@code BF16[4, 256]} — for error messages. */
    public String describe() {
        return dtype + Arrays.toString(shape) + (placement == Placement.DEVICE ? "@device" : "");
    }

    private static long elementCount(long[] shape) {
        long n = 1;
        for (long d : shape) n = Math.multiplyExact(n, d);
        return n;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof Tensor t && t.dtype == dtype && Arrays.equals(t.shape, shape)
                && t.placement == placement && t.data.address() == data.address();
    }

    @Override
    public int hashCode() {
        return Objects.hash(dtype, Arrays.hashCode(shape), placement, data.address());
    }

    @Override
    public String toString() {
        return describe();
    }
}
