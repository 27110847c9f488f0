package dev.moespec.engine.model;

import dev.moespec.api.config.QuantScheme;
import dev.moespec.api.tensor.DType;
import dev.moespec.api.tensor.HostTensors;
import dev.moespec.api.tensor.Tensor;
import dev.moespec.engine.loader.Checkpoint;
import dev.moespec.engine.loader.CheckpointException;
import dev.moespec.engine.loader.MoeDecoderLayout;
import dev.moespec.moe.MoeLayerSpec;
import dev.moespec.moe.MoeWeights;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * Stacks one layer's per-expert HF tensors into the SPI's {@code w13[E, 2I, H]} / {@code w2[E, H, I]} host tensors,
 * in the form the kernel's spec asks for: FP8 block weights stay FP8 with their {@code [E, rows/128, cols/128]}
 * scales for an FP8 kernel; for a BF16/FP16 kernel they are dequantised (and unquantized weights converted).
 */
public final class MoeWeightsFactory {
    private MoeWeightsFactory() {}

    public static MoeWeights build(Checkpoint c, MoeDecoderLayout.Naming naming, int layer, MoeLayerSpec spec, Arena arena) {
        int e = spec.numExperts(), h = spec.hiddenSize(), i = spec.intermediateSize();
        boolean fp8Checkpoint = c.tensor(naming.expertGate(layer, 0)).dtype() == DType.FP8_E4M3;
        if (spec.quant() == QuantScheme.FP8_BLOCK_128) {
            if (!fp8Checkpoint) {
                throw new CheckpointException(c.fileOf(naming.expertGate(layer, 0)), naming.expertGate(layer, 0),
                        "the MoE kernel wants FP8 block weights but the checkpoint's are unquantized; run with a BF16 MoE layer");
            }
            if (i % HostWeights.BLOCK != 0) {
                // gate and up blocks only line up in the stacked w13 when I is a multiple of 128
                throw new CheckpointException(c.fileOf(naming.expertGate(layer, 0)), naming.expertGate(layer, 0),
                        "moe_intermediate_size " + i + " is not a multiple of 128, so gate/up FP8 blocks cannot be stacked"
                                + " into w13; use a BF16 MoE backend (the weights are dequantised for it)");
            }
            Tensor w13 = HostTensors.allocate(arena, DType.FP8_E4M3, e, 2L * i, h);
            Tensor w2 = HostTensors.allocate(arena, DType.FP8_E4M3, e, h, i);
            int hb = blocks(h), ib = blocks(i);
            Tensor s13 = HostTensors.allocate(arena, DType.F32, e, 2L * ib, hb);
            Tensor s2 = HostTensors.allocate(arena, DType.F32, e, hb, ib);
            for (int x = 0; x < e; x++) {
                copy(c, naming.expertGate(layer, x), w13, (long) x * 2 * i * h);
                copy(c, naming.expertUp(layer, x), w13, (long) x * 2 * i * h + (long) i * h);
                copy(c, naming.expertDown(layer, x), w2, (long) x * h * i);
                copyFloats(c, naming.expertGate(layer, x) + "_scale_inv", s13, (long) x * 2 * ib * hb * 4);
                copyFloats(c, naming.expertUp(layer, x) + "_scale_inv", s13, ((long) x * 2 * ib * hb + (long) ib * hb) * 4);
                copyFloats(c, naming.expertDown(layer, x) + "_scale_inv", s2, (long) x * hb * ib * 4);
            }
            return MoeWeights.fp8(w13, w2, s13, s2);
        }
        if (spec.quant().isFp8()) {
            throw new IllegalArgumentException("MoE kernel scheme " + spec.quant().cliName() + " cannot take this"
                    + " checkpoint's weights; moespec loads fp8_block_128 or unquantized (bf16/fp16) MoE layers");
        }
        DType dtype = spec.quant() == QuantScheme.FP16 ? DType.F16 : DType.BF16;
        Tensor w13 = HostTensors.allocate(arena, dtype, e, 2L * i, h);
        Tensor w2 = HostTensors.allocate(arena, dtype, e, h, i);
        for (int x = 0; x < e; x++) {
            put(HostWeights.matrix(c, naming.expertGate(layer, x)), w13, (long) x * 2 * i * h);
            put(HostWeights.matrix(c, naming.expertUp(layer, x)), w13, (long) x * 2 * i * h + (long) i * h);
            put(HostWeights.matrix(c, naming.expertDown(layer, x)), w2, (long) x * h * i);
        }
        return MoeWeights.unquantized(w13, w2);
    }

    private static int blocks(int n) {
        return (n + HostWeights.BLOCK - 1) / HostWeights.BLOCK;
    }

    /** Raw bytes of an FP8 tensor at element {@code at} of {@code dst}. */
    private static void copy(Checkpoint c, String name, Tensor dst, long at) {
        MemorySegment src = c.tensor(name).data();
        MemorySegment.copy(src, 0, dst.data(), at, src.byteSize());
    }

    private static void copyFloats(Checkpoint c, String name, Tensor dst, long byteOffset) {
        MemorySegment src = c.tensor(name).data();
        MemorySegment.copy(src, ValueLayout.JAVA_BYTE, 0, dst.data(), ValueLayout.JAVA_BYTE, byteOffset, src.byteSize());
    }

    private static void put(float[] values, Tensor dst, long at) {
        for (int n = 0; n < values.length; n++) HostTensors.set(dst, at + n, values[n]);
    }
}
