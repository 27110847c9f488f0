package dev.moespec.engine.model;

import dev.moespec.moe.MoeKernel;
import dev.moespec.moe.MoeLayerSpec;
import dev.moespec.moe.MoeWeights;

import java.util.HashMap;
import java.util.Map;
import java.util.function.Function;

/** Kernel sources that are not a role's binding. */
public final class MoeExecution {
    private MoeExecution() {}

    /**
     * The verification oracle: FORMAT.md's fp32 MoE math with unquantised activations (what golden.json holds),
     * one kernel per layer, weights dequantised to BF16-free fp32 from the spec's scheme ({@code layer} decides
     * whether FP8 codes + scales or BF16 values are handed over; either way the math is fp32).
     */
    public static MoeKernelSource exactFp32(MoeLayerSpec layer) {
        Map<Integer, MoeKernel> kernels = new HashMap<>();
        return new MoeKernelSource() {
            @Override
            public synchronized MoeKernel kernel(int index, int tokens, Function<MoeLayerSpec, MoeWeights> weights) {
                return kernels.computeIfAbsent(index, i -> {
                    MoeKernel k = new ExactFp32MoeKernel(layer);
                    k.loadWeights(exactWeights(layer, weights));
                    return k;
                });
            }

            @Override
            public String describe() {
                return ExactFp32MoeKernel.NAME;
            }
        };
    }

    /** FP8 codes dequantised with their scales into F32 stacks, so the exact kernel sees the true fp32 weights. */
    private static MoeWeights exactWeights(MoeLayerSpec layer, Function<MoeLayerSpec, MoeWeights> weights) {
        MoeWeights w = weights.apply(layer);
        if (w.w13Scale().isEmpty()) return w;
        java.lang.foreign.Arena arena = java.lang.foreign.Arena.ofAuto();
        return MoeWeights.unquantized(dequant(arena, w.w13(), w.w13Scale().get()), dequant(arena, w.w2(), w.w2Scale().get()));
    }

    private static dev.moespec.api.tensor.Tensor dequant(java.lang.foreign.Arena arena, dev.moespec.api.tensor.Tensor q,
                                                        dev.moespec.api.tensor.Tensor s) {
        int e = (int) q.dim(0), rows = (int) q.dim(1), cols = (int) q.dim(2);
        int rb = (int) s.dim(1), cb = (int) s.dim(2);
        float[] v = dev.moespec.api.tensor.HostTensors.toFloats(q), sc = dev.moespec.api.tensor.HostTensors.toFloats(s);
        for (int x = 0; x < e; x++)
            for (int r = 0; r < rows; r++)
                for (int c = 0; c < cols; c++)
                    v[(x * rows + r) * cols + c] *= sc[(x * rb + r / 128) * cb + c / 128];
        return dev.moespec.api.tensor.HostTensors.fromFloats(arena, dev.moespec.api.tensor.DType.F32, v, e, rows, cols);
    }
}
