package dev.moespec.moe.reference;

import dev.moespec.api.config.QuantScheme;
import dev.moespec.api.tensor.DType;
import dev.moespec.api.tensor.HostTensors;
import dev.moespec.api.tensor.Tensor;
import dev.moespec.moe.MoeLayerSpec;
import dev.moespec.moe.MoeTensorChecks;
import dev.moespec.moe.MoeWeights;

import java.util.Optional;
import java.util.stream.IntStream;

/**
 * A layer's expert weights dequantised once to fp32, HF layout: {@code w13[E, 2I, H]}, {@code w2[E, H, I]}.
 * FP8 scales multiply (HF {@code weight_scale_inv}).
 */
record Fp32ExpertWeights(float[] w13, float[] w2) {

    private static final int BLOCK = 128;

    /** Validates {@code weights} against {@code layer} and dequantises them. */
    static Fp32ExpertWeights from(MoeLayerSpec layer, MoeWeights weights) {
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
        if (q.isFp8()) {
            if (dtype != DType.FP8_E4M3) {
                throw new IllegalArgumentException("w13 must be FP8_E4M3 for a " + q.cliName() + " layer, got "
                        + weights.w13().describe() + "; build the layer with quant BF16 for unquantized weights");
            }
            float[] s13 = scales("w13Scale", weights.w13Scale(), q, e, 2 * i, h);
            float[] s2 = scales("w2Scale", weights.w2Scale(), q, e, h, i);
            return new Fp32ExpertWeights(dequant(weights.w13(), s13, q, e, 2 * i, h), dequant(weights.w2(), s2, q, e, h, i));
        }
        if (dtype != DType.BF16 && dtype != DType.F16 && dtype != DType.F32) {
            throw new IllegalArgumentException("w13 must be BF16, F16 or F32 for a " + q.cliName() + " layer, got "
                    + weights.w13().describe() + "; FP8 weights need an FP8 quant scheme");
        }
        if (weights.w13Scale().isPresent() || weights.w2Scale().isPresent()) {
            throw new IllegalArgumentException("weight scales were given for an unquantized " + q.cliName()
                    + " layer; use MoeWeights.unquantized or an FP8 quant scheme");
        }
        return new Fp32ExpertWeights(dequant(weights.w13(), null, q, e, 2 * i, h), dequant(weights.w2(), null, q, e, h, i));
    }

    /** The scale tensor's expected shape for one weight matrix stack {@code [E, rows, cols]}. */
    static long[] scaleShape(QuantScheme q, int e, int rows, int cols) {
        return switch (q) {
            case FP8_PER_TENSOR -> new long[]{e};
            case FP8_PER_CHANNEL -> new long[]{e, rows};
            case FP8_BLOCK_128 -> new long[]{e, ceilDiv(rows), ceilDiv(cols)};
            case BF16, FP16 -> throw new IllegalArgumentException(q + " has no weight scales");
        };
    }

    private static float[] scales(String name, Optional<Tensor> scale, QuantScheme q, int e, int rows, int cols) {
        long[] shape = scaleShape(q, e, rows, cols);
        Tensor s = scale.orElseThrow(() -> new IllegalArgumentException(name + " is missing: a " + q.cliName()
                + " layer needs F32" + java.util.Arrays.toString(shape) + " scales; use MoeWeights.fp8(...)"));
        MoeTensorChecks.requireShape(name, s, shape);
        requireHost(name, s);
        if (s.dtype() != DType.F32) {
            throw new IllegalArgumentException(name + " must be F32, got " + s.describe());
        }
        return HostTensors.toFloats(s);
    }

    private static float[] dequant(Tensor w, float[] scales, QuantScheme q, int e, int rows, int cols) {
        // read on the calling thread: the caller's arena may be confined to it
        float[] out = HostTensors.toFloats(w);
        if (scales == null) return out;
        int colBlocks = ceilDiv(cols), rowBlocks = ceilDiv(rows);
        IntStream.range(0, e).parallel().forEach(x -> {
            for (int r = 0; r < rows; r++) {
                int base = (x * rows + r) * cols;
                for (int c = 0; c < cols; c++) {
                    float scale = switch (q) {
                        case FP8_PER_TENSOR -> scales[x];
                        case FP8_PER_CHANNEL -> scales[x * rows + r];
                        default -> scales[(x * rowBlocks + r / BLOCK) * colBlocks + c / BLOCK];
                    };
                    out[base + c] *= scale;
                }
            }
        });
        return out;
    }

    private static void requireHost(String name, Tensor t) {
        if (!t.isHost()) {
            throw new IllegalArgumentException(name + " must be a host tensor (MoeKernel.loadWeights takes host memory), got " + t.describe());
        }
    }

    private static int ceilDiv(int n) {
        return (n + BLOCK - 1) / BLOCK;
    }
}
