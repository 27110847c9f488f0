package dev.moespec.backend.flashinfer;

import dev.moespec.api.config.QuantScheme;
import dev.moespec.api.tensor.DType;
import dev.moespec.api.tensor.Tensor;
import dev.moespec.cuda.CudaContext;
import dev.moespec.cuda.DeviceBuffer;
import dev.moespec.moe.MoeLayerSpec;
import dev.moespec.moe.MoeTensorChecks;
import dev.moespec.moe.MoeWeights;

import java.util.Arrays;
import java.util.Optional;

/**
 * One layer's FP8 expert weights on the device, in the layout the GEMMs read. That layout is Hugging Face's own:
 * {@code w13[E, 2I, H]} and {@code w2[E, H, I]} e4m3 rows are K-contiguous, which is exactly the B operand of
 * {@code mma.row.col}, and the F32 scales keep their {@code [E, rows/128, cols/128]} (block) or {@code [E]}
 * (per-tensor) layout. So "repacking" is an upload, and checking is all the work.
 */
record DeviceExpertWeights(DeviceBuffer w13, DeviceBuffer w2, DeviceBuffer w13Scale, DeviceBuffer w2Scale) implements AutoCloseable {

    /** Validates {@code weights} against {@code layer} (naming the tensor and the fix) and uploads them. */
    static DeviceExpertWeights upload(CudaContext ctx, MoeLayerSpec layer, MoeWeights weights) {
        validate(layer, weights);
        DeviceBuffer w13 = null, w2 = null, s13 = null;
        try {
            w13 = copy(ctx, weights.w13());
            w2 = copy(ctx, weights.w2());
            s13 = copy(ctx, weights.w13Scale().orElseThrow());
            DeviceBuffer s2 = copy(ctx, weights.w2Scale().orElseThrow());
            return new DeviceExpertWeights(w13, w2, s13, s2);
        } catch (RuntimeException e) {
            for (DeviceBuffer b : new DeviceBuffer[]{w13, w2, s13}) if (b != null) b.close();
            throw e;
        }
    }

    /** The checks {@link #upload} makes, without a device. */
    static void validate(MoeLayerSpec layer, MoeWeights weights) {
        int e = layer.numExperts(), h = layer.hiddenSize(), i = layer.intermediateSize();
        QuantScheme q = layer.quant();
        requireHostFp8("w13", weights.w13(), q);
        requireHostFp8("w2", weights.w2(), q);
        MoeTensorChecks.requireShape("w13", weights.w13(), e, 2L * i, h);
        MoeTensorChecks.requireShape("w2", weights.w2(), e, h, i);
        requireScale("w13Scale", weights.w13Scale(), q, scaleShape(q, e, 2 * i, h));
        requireScale("w2Scale", weights.w2Scale(), q, scaleShape(q, e, h, i));
    }

    static long[] scaleShape(QuantScheme q, int e, int rows, int cols) {
        return q == QuantScheme.FP8_BLOCK_128 ? new long[]{e, LaunchPlan.ceilDiv(rows, 128), LaunchPlan.ceilDiv(cols, 128)} : new long[]{e};
    }

    private static void requireHostFp8(String name, Tensor t, QuantScheme q) {
        if (!t.isHost()) {
            throw new IllegalArgumentException(name + " must be a host tensor (MoeKernel.loadWeights takes host memory), got " + t.describe());
        }
        if (t.dtype() != DType.FP8_E4M3) {
            throw new IllegalArgumentException(name + " must be FP8_E4M3 for a " + q.cliName() + " layer, got " + t.describe()
                    + "; flashinfer_trtllm serves FP8 checkpoints only (use triton for unquantized weights)");
        }
    }

    private static void requireScale(String name, Optional<Tensor> scale, QuantScheme q, long[] shape) {
        Tensor s = scale.orElseThrow(() -> new IllegalArgumentException(name + " is missing: a " + q.cliName()
                + " layer needs F32" + Arrays.toString(shape) + " scales (HF weight_scale_inv); use MoeWeights.fp8(...)"));
        if (!s.isHost()) {
            throw new IllegalArgumentException(name + " must be a host tensor, got " + s.describe());
        }
        if (s.dtype() != DType.F32) {
            throw new IllegalArgumentException(name + " must be F32, got " + s.describe());
        }
        MoeTensorChecks.requireShape(name, s, shape);
    }

    private static DeviceBuffer copy(CudaContext ctx, Tensor host) {
        DeviceBuffer b = DeviceBuffer.alloc(ctx, host.byteSize());
        b.copyFrom(host.data().asSlice(0, host.byteSize()));
        return b;
    }

    @Override
    public void close() {
        w13.close();
        w2.close();
        w13Scale.close();
        w2Scale.close();
    }
}
