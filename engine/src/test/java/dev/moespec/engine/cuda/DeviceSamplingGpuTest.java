package dev.moespec.engine.cuda;

import dev.moespec.cuda.CudaContext;
import dev.moespec.cuda.CudaStream;
import dev.moespec.cuda.DeviceBuffer;
import dev.moespec.engine.sampling.Sampler;
import dev.moespec.engine.sampling.SamplingParams;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.OptionalLong;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * The GPU sampling kernel against the CPU {@link Sampler}'s distribution: given the same logits and the same
 * uniform draw u, both pick the same token (inverse CDF over the kept tokens in id order).
 */
@Tag("gpu")
class DeviceSamplingGpuTest {

    @BeforeEach
    void gpu() {
        GpuModels.assumeGpuRunner();
    }

    /** The CPU sampler's pick for a given u, from its published distribution. */
    private static int cpuPick(float[] logits, SamplingParams p, double u) {
        if (p.isGreedy()) return Sampler.argmax(logits);
        double[] prob = Sampler.probabilities(logits, p);
        double acc = 0;
        int last = -1;
        for (int i = 0; i < prob.length; i++) {
            if (prob[i] == 0) continue;
            acc += prob[i];
            last = i;
            if (u < acc) return i;
        }
        return last;
    }

    @Test
    void gpuSamplingPicksWhatTheCpuSamplerPicks() {
        int rows = 64;
        Random rnd = new Random(7);
        float[][] settings = {{0, 0, 1}, {1f, 0, 1}, {0.7f, 20, 1}, {1.3f, 0, 0.9f}, {0.8f, 50, 0.8f}, {1f, 1, 1}};
        try (CudaContext ctx = CudaContext.open(0); CudaStream stream = CudaStream.create(ctx); Arena arena = Arena.ofConfined()) {
            DecoderKernels k = DecoderKernels.load(ctx);
            for (int vocab : new int[]{320, 5000}) {
                for (float[] s : settings) {
                    float[] logits = new float[rows * vocab];
                    for (int i = 0; i < logits.length; i++) logits[i] = (float) (rnd.nextGaussian() * 3);
                    double[] u = new double[rows];
                    MemorySegment hl = arena.allocate(4L * logits.length), hp = arena.allocate(12L * rows),
                            hk = arena.allocate(4L * rows), ho = arena.allocate(4L * rows);
                    MemorySegment.copy(logits, 0, hl, ValueLayout.JAVA_FLOAT, 0, logits.length);
                    for (int r = 0; r < rows; r++) {
                        u[r] = (float) rnd.nextDouble(); // what the runner hands the kernel: a float
                        hp.setAtIndex(ValueLayout.JAVA_FLOAT, 3L * r, s[0]);
                        hp.setAtIndex(ValueLayout.JAVA_FLOAT, 3L * r + 1, s[2]);
                        hp.setAtIndex(ValueLayout.JAVA_FLOAT, 3L * r + 2, (float) u[r]);
                        hk.setAtIndex(ValueLayout.JAVA_INT, r, (int) s[1]);
                        ho.setAtIndex(ValueLayout.JAVA_INT, r, -7); // poison
                    }
                    try (DeviceBuffer dl = DeviceBuffer.alloc(ctx, hl.byteSize()); DeviceBuffer dp = DeviceBuffer.alloc(ctx, hp.byteSize());
                         DeviceBuffer dk = DeviceBuffer.alloc(ctx, hk.byteSize()); DeviceBuffer dout = DeviceBuffer.alloc(ctx, ho.byteSize())) {
                        dl.copyFrom(hl);
                        dp.copyFrom(hp);
                        dk.copyFrom(hk);
                        dout.copyFrom(ho);
                        k.sample(stream.handle(), rows, dl.address(), vocab, dp.address(), dk.address(), dout.address());
                        stream.synchronize();
                        dout.copyTo(ho);
                    }
                    SamplingParams p = new SamplingParams(s[0], (int) s[1], s[2], OptionalLong.of(1), 1, false);
                    for (int r = 0; r < rows; r++) {
                        float[] row = java.util.Arrays.copyOfRange(logits, r * vocab, (r + 1) * vocab);
                        assertEquals(cpuPick(row, p, u[r]), ho.getAtIndex(ValueLayout.JAVA_INT, r),
                                "vocab " + vocab + ", T=" + s[0] + " top_k=" + (int) s[1] + " top_p=" + s[2] + ", row " + r + ", u=" + u[r]);
                    }
                }
            }
        }
    }
}
