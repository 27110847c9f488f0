package dev.moespec.backend.triton;

import dev.moespec.api.config.QuantScheme;
import dev.moespec.api.tensor.DType;
import dev.moespec.api.tensor.HostTensors;
import dev.moespec.api.tensor.Tensor;
import dev.moespec.cuda.CudaContext;
import dev.moespec.cuda.DeviceBuffer;
import dev.moespec.moe.MoeLayerSpec;
import dev.moespec.moe.MoeTensorChecks;
import dev.moespec.moe.MoeWeights;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Optional;

/**
 * A layer's expert weights on the device, in the layout triton's kernels read: HF's row order ({@code w13[E, 2I, H]}
 * gate rows then up rows, {@code w2[E, H, I]}), each row padded with zeros to a whole number of 16-byte vectors
 * ({@link TritonNumerics#padK}), in {@link TritonNumerics#gemmType()}; FP8 weight scales as F32 when the GEMMs run in
 * e4m3. Validated against the layer exactly as the CPU reference validates them.
 *
 * @param w13Scale null unless the GEMMs are e4m3
 * @param w2Scale  null unless the GEMMs are e4m3
 */
record DeviceExpertWeights(DeviceBuffer w13, DeviceBuffer w2, DeviceBuffer w13Scale, DeviceBuffer w2Scale,
                           int h13Stride, int i2Stride) implements AutoCloseable {

    private static final int BLOCK = 128;

    static DeviceExpertWeights upload(CudaContext ctx, MoeLayerSpec layer, TritonNumerics numerics, MoeWeights weights) {
        int e = layer.numExperts(), h = layer.hiddenSize(), i = layer.intermediateSize();
        MoeTensorChecks.requireShape("w13", weights.w13(), e, 2L * i, h);
        MoeTensorChecks.requireShape("w2", weights.w2(), e, h, i);
        requireHost("w13", weights.w13());
        requireHost("w2", weights.w2());
        if (weights.w2().dtype() != weights.w13().dtype()) {
            throw new IllegalArgumentException("w2 must have w13's dtype " + weights.w13().dtype() + ", got " + weights.w2().describe());
        }
        QuantScheme q = layer.quant();
        DType dtype = weights.w13().dtype();
        float[] s13 = null, s2 = null;
        if (q.isFp8()) {
            if (dtype != DType.FP8_E4M3) {
                throw new IllegalArgumentException("w13 must be FP8_E4M3 for a " + q.cliName() + " layer, got "
                        + weights.w13().describe() + "; build the layer with quant BF16 for unquantized weights");
            }
            s13 = scales("w13Scale", weights.w13Scale(), q, e, 2 * i, h);
            s2 = scales("w2Scale", weights.w2Scale(), q, e, h, i);
        } else {
            if (dtype != DType.BF16 && dtype != DType.F16 && dtype != DType.F32) {
                throw new IllegalArgumentException("w13 must be BF16, F16 or F32 for a " + q.cliName() + " layer, got "
                        + weights.w13().describe() + "; FP8 weights need an FP8 quant scheme");
            }
            if (weights.w13Scale().isPresent() || weights.w2Scale().isPresent()) {
                throw new IllegalArgumentException("weight scales were given for an unquantized " + q.cliName()
                        + " layer; use MoeWeights.unquantized or an FP8 quant scheme");
            }
        }
        int hp = numerics.padK(h), ip = numerics.padK(i);
        DeviceBuffer w13 = null, w2 = null, sc13 = null, sc2 = null;
        try {
            w13 = stack(ctx, weights.w13(), numerics, q, s13, e, 2 * i, h, hp);
            w2 = stack(ctx, weights.w2(), numerics, q, s2, e, h, i, ip);
            if (numerics.fp8Gemm()) {
                sc13 = floats(ctx, s13);
                sc2 = floats(ctx, s2);
            }
            return new DeviceExpertWeights(w13, w2, sc13, sc2, hp, ip);
        } catch (RuntimeException ex) {
            for (DeviceBuffer b : new DeviceBuffer[]{w13, w2, sc13, sc2}) if (b != null) b.close();
            throw ex;
        }
    }

    /** One weight stack {@code [E, rows, cols]} as {@code [E, rows, stride]} of the GEMM type. */
    private static DeviceBuffer stack(CudaContext ctx, Tensor w, TritonNumerics numerics, QuantScheme q, float[] scales,
                                      int e, int rows, int cols, int stride) {
        DType to = numerics.gemmType();
        long rowCount = (long) e * rows;
        DeviceBuffer buffer = DeviceBuffer.alloc(ctx, rowCount * stride * to.byteSize());
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment host;
            if (w.dtype() == to && stride == cols) {
                host = w.data().asSlice(0, w.byteSize()); // already the kernels' layout: no copy on the host
            } else if (w.dtype() == to) {
                host = arena.allocate(rowCount * stride * to.byteSize(), 16);
                long src = (long) cols * to.byteSize(), dst = (long) stride * to.byteSize();
                for (long r = 0; r < rowCount; r++) MemorySegment.copy(w.data(), r * src, host, r * dst, src);
            } else {
                // conversion (F32/F16 -> BF16 etc.), or FP8 dequantised to BF16 at load
                host = arena.allocate(rowCount * stride * to.byteSize(), 16);
                Tensor out = Tensor.host(to, host, rowCount, stride);
                Tensor in = w;
                int colBlocks = (cols + BLOCK - 1) / BLOCK, rowBlocks = (rows + BLOCK - 1) / BLOCK;
                // sequential: the caller's arena may be confined to this thread
                for (int x = 0; x < e; x++) {
                    for (int r = 0; r < rows; r++) {
                        long base = ((long) x * rows + r) * cols, obase = ((long) x * rows + r) * stride;
                        for (int c = 0; c < cols; c++) {
                            float v = HostTensors.get(in, base + c);
                            if (scales != null) {
                                v *= switch (q) {
                                    case FP8_PER_TENSOR -> scales[x];
                                    case FP8_PER_CHANNEL -> scales[x * rows + r];
                                    default -> scales[(x * rowBlocks + r / BLOCK) * colBlocks + c / BLOCK];
                                };
                            }
                            HostTensors.set(out, obase + c, v);
                        }
                    }
                }
            }
            buffer.copyFrom(host);
            return buffer;
        } catch (RuntimeException ex) {
            buffer.close();
            throw ex;
        }
    }

    private static DeviceBuffer floats(CudaContext ctx, float[] values) {
        DeviceBuffer b = DeviceBuffer.alloc(ctx, 4L * values.length);
        b.copyFrom(MemorySegment.ofArray(values));
        return b;
    }

    private static float[] scales(String name, Optional<Tensor> scale, QuantScheme q, int e, int rows, int cols) {
        long[] shape = switch (q) {
            case FP8_PER_TENSOR -> new long[]{e};
            case FP8_PER_CHANNEL -> new long[]{e, rows};
            default -> new long[]{e, (rows + BLOCK - 1) / BLOCK, (cols + BLOCK - 1) / BLOCK};
        };
        Tensor s = scale.orElseThrow(() -> new IllegalArgumentException(name + " is missing: a " + q.cliName()
                + " layer needs F32" + java.util.Arrays.toString(shape) + " scales; use MoeWeights.fp8(...)"));
        MoeTensorChecks.requireShape(name, s, shape);
        requireHost(name, s);
        if (s.dtype() != DType.F32) throw new IllegalArgumentException(name + " must be F32, got " + s.describe());
        return HostTensors.toFloats(s);
    }

    private static void requireHost(String name, Tensor t) {
        if (!t.isHost()) {
            throw new IllegalArgumentException(name + " must be a host tensor (MoeKernel.loadWeights takes host memory), got "
                    + t.describe());
        }
    }

    @Override
    public void close() {
        for (DeviceBuffer b : new DeviceBuffer[]{w13, w2, w13Scale, w2Scale}) if (b != null) b.close();
    }
}
