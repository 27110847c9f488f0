package dev.moespec.engine.bench;

import dev.moespec.api.tensor.DType;
import dev.moespec.api.tensor.HostTensors;
import dev.moespec.api.tensor.Tensor;
import dev.moespec.moe.MoeKernel;
import dev.moespec.moe.StagedMoeKernel;

import java.lang.foreign.Arena;
import java.util.Optional;

/** A row on a kernel that takes host tensors ({@code cpu_reference}): BF16 activations, F32 logits, wall-clock timing. */
record HostRowRunner(MoeBench.HostInputs inputs, HostStageTimer timer) implements RowRunner {

    @Override
    public Result run(MoeKernel kernel, int tokens) {
        int h = kernel.layer().hiddenSize();
        Tensor hidden = inputs.hidden(tokens);
        Tensor logits = inputs.logits(tokens);
        try (Arena arena = Arena.ofConfined()) {
            Tensor out = HostTensors.allocate(arena, DType.BF16, tokens, h);
            out.data().fill((byte) 0xFF); // bf16 0xFFFF is NaN: an element the kernel does not write shows up
            kernel.forward(hidden, logits, out, 0L);
            float[] output = HostTensors.toFloats(out);
            if (kernel instanceof StagedMoeKernel staged) {
                Timing align = timer.time(() -> staged.route(logits, 0L));
                staged.route(logits, 0L);
                Timing main = timer.time(() -> staged.experts(hidden, out, 0L));
                return new Result(output, main, Optional.of(align), true);
            }
            return new Result(output, timer.time(() -> kernel.forward(hidden, logits, out, 0L)), Optional.empty(), false);
        }
    }
}
