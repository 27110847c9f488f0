package dev.moespec.api.tensor;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.Objects;

/**
 * Host tensors for reference code and tests: allocation in a caller's {@link Arena} and element access as
 * {@code float} with the conversions GPU kernels use. Memory is little-endian (safetensors, CUDA).
 *
 * <p>Conversions from {@code float}:
 * <ul>
 *   <li>{@link DType#BF16}: round to nearest even; NaN stays NaN (quiet, sign kept); overflow becomes infinity.</li>
 *   <li>{@link DType#F16}: {@link Float#floatToFloat16} (round to nearest even).</li>
 *   <li>{@link DType#FP8_E4M3}: OCP e4m3fn — bias 7, no infinities, NaN is {@code 0x7F}/{@code 0xFF}, largest
 *       finite value 448; round to nearest even, finite values and infinities beyond ±448 saturate to ±448,
 *       values below 2<sup>-6</sup> become subnormals (smallest 2<sup>-9</sup>).</li>
 *   <li>{@link DType#I32}, {@link DType#I64}, {@link DType#U8}: rounded to the nearest integer and clamped to the
 *       type's range (NaN becomes 0).</li>
 * </ul>
 */
public final class HostTensors {
    private HostTensors() {}

    /** Largest finite e4m3fn value. */
    public static final float E4M3_MAX = 448f;

    private static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfShort I16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfInt I32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfLong I64 = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    /** A zero-filled host tensor of {@code dtype[shape]}, owned by {@code arena}. */
    public static Tensor allocate(Arena arena, DType dtype, long... shape) {
        Objects.requireNonNull(arena, "arena");
        Objects.requireNonNull(dtype, "dtype");
        long count = 1;
        for (long d : shape) {
            if (d < 0) throw new IllegalArgumentException("negative dimension in shape " + Arrays.toString(shape));
            count = Math.multiplyExact(count, d);
        }
        // 16-byte alignment suits every dtype and vectorised readers; allocate() zero-fills.
        MemorySegment data = arena.allocate(Math.multiplyExact(count, dtype.byteSize()), 16);
        return Tensor.host(dtype, data, shape);
    }

    /** Element {@code index} (row-major, flattened) as a float. */
    public static float get(Tensor t, long index) {
        long offset = offset(t, index);
        MemorySegment s = t.data();
        return switch (t.dtype()) {
            case F32 -> s.get(F32, offset);
            case BF16 -> bf16ToFloat(s.get(I16, offset));
            case F16 -> Float.float16ToFloat(s.get(I16, offset));
            case FP8_E4M3 -> e4m3ToFloat(s.get(ValueLayout.JAVA_BYTE, offset));
            case I32 -> s.get(I32, offset);
            case I64 -> s.get(I64, offset);
            case U8 -> Byte.toUnsignedInt(s.get(ValueLayout.JAVA_BYTE, offset));
        };
    }

    /** Stores {@code value} at element {@code index}, converted to the tensor's dtype. */
    public static void set(Tensor t, long index, float value) {
        long offset = offset(t, index);
        MemorySegment s = t.data();
        switch (t.dtype()) {
            case F32 -> s.set(F32, offset, value);
            case BF16 -> s.set(I16, offset, floatToBf16(value));
            case F16 -> s.set(I16, offset, Float.floatToFloat16(value));
            case FP8_E4M3 -> s.set(ValueLayout.JAVA_BYTE, offset, floatToE4m3(value));
            case I32 -> s.set(I32, offset, (int) Math.rint(value)); // the cast clamps and maps NaN to 0
            case I64 -> s.set(I64, offset, (long) Math.rint(value));
            case U8 -> s.set(ValueLayout.JAVA_BYTE, offset, (byte) Math.clamp((long) Math.rint(value), 0, 255));
        }
    }

    /** Every element as a float, row-major. */
    public static float[] toFloats(Tensor t) {
        long n = t.elementCount();
        if (n > Integer.MAX_VALUE - 8) {
            throw new IllegalArgumentException(t.describe() + " has " + n + " elements, too many for a float[]");
        }
        float[] out = new float[(int) n];
        for (int i = 0; i < out.length; i++) out[i] = get(t, i);
        return out;
    }

    /** A new host tensor of {@code dtype[shape]} holding {@code values} converted to {@code dtype}. */
    public static Tensor fromFloats(Arena arena, DType dtype, float[] values, long... shape) {
        Tensor t = allocate(arena, dtype, shape);
        if (t.elementCount() != values.length) {
            throw new IllegalArgumentException("shape " + Arrays.toString(shape) + " holds " + t.elementCount()
                    + " elements but " + values.length + " values were given");
        }
        for (int i = 0; i < values.length; i++) set(t, i, values[i]);
        return t;
    }

    /** The value {@code x} becomes after a round trip through {@code dtype} (for reference math). */
    public static float roundTo(DType dtype, float x) {
        return switch (dtype) {
            case F32 -> x;
            case BF16 -> bf16ToFloat(floatToBf16(x));
            case F16 -> Float.float16ToFloat(Float.floatToFloat16(x));
            case FP8_E4M3 -> e4m3ToFloat(floatToE4m3(x));
            default -> throw new IllegalArgumentException("roundTo supports floating dtypes only, got " + dtype);
        };
    }

    /** bfloat16 bits of {@code x}, rounded to nearest even; NaN stays a quiet NaN with its sign. */
    public static short floatToBf16(float x) {
        int bits = Float.floatToRawIntBits(x);
        if (Float.isNaN(x)) {
            return (short) ((bits >>> 16) | 0x0040);
        }
        int roundingBias = 0x7FFF + ((bits >>> 16) & 1);
        return (short) ((bits + roundingBias) >>> 16);
    }

    public static float bf16ToFloat(short bits) {
        return Float.intBitsToFloat((bits & 0xFFFF) << 16);
    }

    /** e4m3fn bits of {@code x}: round to nearest even, saturating to ±448; NaN becomes {@code 0x7F}/{@code 0xFF}. */
    public static byte floatToE4m3(float x) {
        int sign = (Float.floatToRawIntBits(x) >>> 24) & 0x80;
        if (Float.isNaN(x)) return (byte) (sign | 0x7F);
        double a = Math.min(Math.abs((double) x), E4M3_MAX);
        int code;
        if (a < 0x1p-6) {
            // subnormal: multiples of 2^-9; a result of 8 is exactly the smallest normal, code 0x08
            code = (int) Math.rint(a * 0x1p9);
        } else {
            int e = Math.getExponent(a);
            int m = (int) Math.rint(Math.scalb(a, 3 - e)); // in [8, 16]; 16 carries into the exponent
            code = ((e + 7) << 3) + (m - 8);
        }
        return (byte) (sign | code);
    }

    public static float e4m3ToFloat(byte bits) {
        int b = bits & 0xFF;
        int exponent = (b >>> 3) & 0xF;
        int mantissa = b & 0x7;
        float magnitude;
        if (exponent == 0xF && mantissa == 0x7) {
            magnitude = Float.NaN;
        } else if (exponent == 0) {
            magnitude = Math.scalb((float) mantissa, -9);
        } else {
            magnitude = Math.scalb(1f + mantissa / 8f, exponent - 7);
        }
        return (b & 0x80) != 0 ? -magnitude : magnitude;
    }

    private static long offset(Tensor t, long index) {
        if (!t.isHost()) {
            throw new IllegalArgumentException("tensor " + t.describe() + " lives on the device; copy it to the host first");
        }
        if (index < 0 || index >= t.elementCount()) {
            throw new IndexOutOfBoundsException("index " + index + " out of bounds for " + t.describe());
        }
        return index * t.dtype().byteSize();
    }
}
