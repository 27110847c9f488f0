package dev.moespec.engine.spec.gpu;

import dev.moespec.api.proposer.ProposalRequest;
import dev.moespec.api.proposer.ProposerSettings;
import dev.moespec.cuda.CudaContext;
import dev.moespec.cuda.CudaStream;
import dev.moespec.cuda.DeviceBuffer;
import dev.moespec.engine.spec.RejectionSampler;
import dev.moespec.engine.spec.Verification;
import dev.moespec.proposers.cuda.DraftSampling;
import dev.moespec.proposers.cuda.GpuDraftSampler;
import dev.moespec.proposers.cuda.GpuNgramMatcher;
import dev.moespec.proposers.cuda.NgramLookup;
import dev.moespec.proposers.ngram.NgramProposer;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import java.util.SplittableRandom;

/**
 * Times one call of each speculative-decoding GPU component as the loop makes it (upload of the host-side inputs,
 * launch, readback, synchronize), median of 200 after 30 warm-up calls, next to the CPU implementation on the same
 * inputs. Run on the GPU host: {@code bash .gpu/run java dev.moespec.engine.spec.gpu.SpecKernelsBench}.
 */
public final class SpecKernelsBench {
    private static final int WARMUP = 30, TIMED = 200;

    private SpecKernelsBench() {}

    private static double medianMicros(Runnable r) {
        for (int i = 0; i < WARMUP; i++) r.run();
        double[] t = new double[TIMED];
        for (int i = 0; i < TIMED; i++) {
            long s = System.nanoTime();
            r.run();
            t[i] = (System.nanoTime() - s) / 1e3;
        }
        Arrays.sort(t);
        return t[TIMED / 2];
    }

    public static void main(String[] args) {
        Random rnd = new Random(1);
        try (CudaContext ctx = CudaContext.open(0); CudaStream stream = CudaStream.create(ctx);
             GpuNgramMatcher ngram = new GpuNgramMatcher(ctx); GpuDraftSampler draft = new GpuDraftSampler(ctx);
             GpuRejectionSampler verify = new GpuRejectionSampler(ctx); Arena arena = Arena.ofConfined()) {
            System.out.println("device: " + ctx.info().describe());
            System.out.println();
            System.out.println("ngram (k=4, n in [1,4]): median us per call");
            System.out.printf("%6s %8s %10s %10s%n", "batch", "len", "gpu", "cpu");
            for (int batch : new int[]{1, 8, 64}) {
                for (int len : new int[]{512, 4096, 32768}) {
                    List<int[]> h = new ArrayList<>();
                    for (int b = 0; b < batch; b++) h.add(rnd.ints(len, 0, 320).toArray());
                    NgramLookup lookup = new NgramLookup(4, 1, 4, 1 << 20);
                    NgramProposer cpu = new NgramProposer(new ProposerSettings(4, 1, 4, 1 << 20, 320));
                    ProposalRequest req = new ProposalRequest(h);
                    System.out.printf("%6d %8d %10.1f %10.1f%n", batch, len,
                            medianMicros(() -> ngram.propose(h, lookup)), medianMicros(() -> cpu.propose(req)));
                }
            }

            System.out.println();
            System.out.println("draft sampling (token + probability rows): median us per call (GPU: settings up, tokens back)");
            System.out.printf("%6s %8s %-28s %10s%n", "rows", "vocab", "sampling", "gpu");
            for (int vocab : new int[]{320, 151_936}) {
                for (int rows : new int[]{1, 8, 64}) {
                    float[] logits = new float[rows * vocab];
                    for (int i = 0; i < logits.length; i++) logits[i] = (float) (rnd.nextGaussian() * 3);
                    MemorySegment hl = arena.allocate(4L * logits.length);
                    MemorySegment.copy(logits, 0, hl, ValueLayout.JAVA_FLOAT, 0, logits.length);
                    try (DeviceBuffer dl = DeviceBuffer.alloc(ctx, hl.byteSize()); DeviceBuffer dp = DeviceBuffer.alloc(ctx, hl.byteSize())) {
                        dl.copyFrom(hl);
                        for (DraftSampling s : new DraftSampling[]{DraftSampling.GREEDY, new DraftSampling(1, 0, 1, 0.5),
                                new DraftSampling(0.8, 50, 0.9, 0.5), new DraftSampling(1, 0, 0.9, 0.5)}) {
                            List<DraftSampling> settings = Collections.nCopies(rows, s);
                            String name = s.isGreedy() ? "greedy" : "T=" + s.temperature() + " top_k=" + s.topK() + " top_p=" + s.topP();
                            System.out.printf("%6d %8d %-28s %10.1f%n", rows, vocab, name,
                                    medianMicros(() -> draft.sample(stream, dl.address(), vocab, settings, dp.address())));
                        }
                    }
                }
            }

            System.out.println();
            System.out.println("rejection sampling (K=4 drafts each, draft distributions on the device): median us per call;");
            System.out.println("cpu = RejectionSampler on host arrays already copied back (the GPU path needs no row copy)");
            System.out.printf("%6s %8s %-14s %10s %10s%n", "batch", "vocab", "mode", "gpu", "cpu");
            for (int vocab : new int[]{320, 151_936}) {
                for (int batch : new int[]{1, 8, 64}) {
                    int k = 4;
                    float[][][] target = new float[batch][k + 1][vocab];
                    float[][][] q = new float[batch][k][vocab];
                    List<int[]> drafts = new ArrayList<>();
                    List<double[]> uniforms = new ArrayList<>();
                    for (int b = 0; b < batch; b++) {
                        for (float[] row : target[b]) fill(row, rnd);
                        for (float[] row : q[b]) fill(row, rnd);
                        drafts.add(rnd.ints(k, 0, vocab).toArray());
                        uniforms.add(rnd.doubles(k + 1).toArray());
                    }
                    MemorySegment ht = arena.allocate(4L * batch * (k + 1) * vocab), hq = arena.allocate(4L * batch * k * vocab);
                    for (int b = 0; b < batch; b++) {
                        for (int i = 0; i <= k; i++) MemorySegment.copy(target[b][i], 0, ht, ValueLayout.JAVA_FLOAT, 4L * vocab * (b * (k + 1L) + i), vocab);
                        for (int i = 0; i < k; i++) MemorySegment.copy(q[b][i], 0, hq, ValueLayout.JAVA_FLOAT, 4L * vocab * (b * (long) k + i), vocab);
                    }
                    try (DeviceBuffer dt = DeviceBuffer.alloc(ctx, ht.byteSize()); DeviceBuffer dq = DeviceBuffer.alloc(ctx, hq.byteSize())) {
                        dt.copyFrom(ht);
                        dq.copyFrom(hq);
                        for (VerifyMode mode : VerifyMode.values()) {
                            List<Verification> vs = new ArrayList<>();
                            for (int b = 0; b < batch; b++) vs.add(new Verification(drafts.get(b), q[b], target[b]));
                            SplittableRandom cpuRandom = new SplittableRandom(3);
                            Runnable cpu = mode == VerifyMode.GREEDY
                                    ? () -> vs.forEach(RejectionSampler::greedy)
                                    : () -> vs.forEach(v -> RejectionSampler.probabilistic(v, cpuRandom));
                            System.out.printf("%6d %8d %-14s %10.1f %10.1f%n", batch, vocab, mode,
                                    medianMicros(() -> verify.verify(stream, mode, dt.address(), vocab, drafts, k, dq.address(),
                                            mode == VerifyMode.PROBABILISTIC ? uniforms : null)),
                                    medianMicros(cpu));
                        }
                    }
                }
            }
        }
    }

    private static void fill(float[] row, Random rnd) {
        double sum = 0;
        double[] w = new double[row.length];
        for (int i = 0; i < row.length; i++) sum += w[i] = Math.exp(2 * rnd.nextGaussian());
        for (int i = 0; i < row.length; i++) row[i] = (float) (w[i] / sum);
    }
}
