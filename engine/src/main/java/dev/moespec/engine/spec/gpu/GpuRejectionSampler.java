package dev.moespec.engine.spec.gpu;

import dev.moespec.cuda.CudaContext;
import dev.moespec.cuda.CudaFunction;
import dev.moespec.cuda.CudaModule;
import dev.moespec.cuda.CudaStream;
import dev.moespec.cuda.Dim3;
import dev.moespec.cuda.KernelArgs;
import dev.moespec.cuda.StagingBuffer;
import dev.moespec.engine.spec.VerificationResult;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * The batched GPU form of {@code RejectionSampler} ({@code engine/src/main/cuda/rejection.cu}, kernel
 * {@code rs_verify}, one CTA per sequence): from the target's rows on the device, each sequence's draft tokens, the
 * drafter's probabilities (on the device, or none for a one-hot drafter such as n-gram) and the caller's uniforms,
 * the accepted count and the emitted tokens of every sequence. For the same inputs and uniforms it returns what the
 * CPU sampler returns, because the kernel consumes uniforms in the CPU's {@code nextDouble()} order.
 *
 * <p>{@link #verify} packs the drafts, counts, target row offsets and uniforms into one reused page-locked buffer,
 * uploads them with one copy, launches, and reads the results back with one copy, all on the caller's stream (which
 * must belong to the context this sampler was created in). {@link #enqueue} is the device-resident form for a loop
 * that keeps everything on the GPU (graph capture). Used from one thread at a time.
 */
public final class GpuRejectionSampler implements AutoCloseable {
    /** The engine's kernel image, which also holds the decoder kernels. */
    static final String ARTIFACT_ID = "moespec-engine";
    private static final int THREADS = 256;

    private final CudaContext context;
    private final CudaModule module;
    private final CudaFunction kernel;
    private final StagingBuffer input;   // int32 row0[B], drafts[B][K], counts[B]; pad to 8; fp64 uniforms[B][K+1]
    private final StagingBuffer output;  // int32 [B][K+2]

    /** Loads the engine's fatbin into {@code context}. */
    public GpuRejectionSampler(CudaContext context) {
        this.context = Objects.requireNonNull(context, "context");
        this.module = CudaModule.fromResource(context, GpuRejectionSampler.class.getClassLoader(),
                CudaModule.kernelResource(ARTIFACT_ID));
        try {
            this.kernel = module.function("rs_verify");
            this.input = new StagingBuffer(context, 1 << 12);
            this.output = new StagingBuffer(context, 1 << 10);
        } catch (RuntimeException e) {
            module.close();
            throw e;
        }
    }

    /** Whether the engine jar carries its fatbin (false for a build without nvcc); needs no GPU. */
    public static boolean kernelsPresent() {
        return CudaModule.hasKernels(GpuRejectionSampler.class.getClassLoader(), ARTIFACT_ID);
    }

    /**
     * Verifies one step of a batch and waits for the result.
     *
     * @param targetRows device fp32 rows of {@code vocab}: sequence b's {@code drafts.get(b).length + 1} rows follow
     *                   sequence b-1's (the layout of one verify pass over every sequence's last token and its
     *                   drafts); probabilities for {@link VerifyMode#PROBABILISTIC}, probabilities or logits for greedy
     * @param drafts     per sequence its 0..maxDrafts draft tokens, each in [0, vocab)
     * @param maxDrafts  K, the padding of {@code draftProbs} (usually num_speculative_tokens)
     * @param draftProbs device fp32 {@code [B][maxDrafts][vocab]} drafter distributions (row b*K+i for draft i of b),
     *                   or 0 when the drafter has none (p_draft = 1 for its token)
     * @param uniforms   per sequence at least {@code drafts.get(b).length + 1} draws in [0, 1) from its generator, used
     *                   in order (probabilistic only; null for greedy)
     * @return one result per sequence, in order
     */
    public List<VerificationResult> verify(CudaStream stream, VerifyMode mode, long targetRows, int vocab,
                                           List<int[]> drafts, int maxDrafts, long draftProbs, List<double[]> uniforms) {
        int batch = checkHostInputs(mode, targetRows, vocab, drafts, maxDrafts, uniforms);
        if (batch == 0) return List.of();
        long intsBytes = 4L * (batch + (long) batch * maxDrafts + batch);
        long uniformOffset = (intsBytes + 7) / 8 * 8;
        long inBytes = uniformOffset + (mode == VerifyMode.PROBABILISTIC ? 8L * batch * (maxDrafts + 1) : 0);
        input.ensure(inBytes);
        MemorySegment in = input.host(inBytes);
        int row = 0;
        for (int b = 0; b < batch; b++) {
            int[] d = drafts.get(b);
            in.setAtIndex(ValueLayout.JAVA_INT, b, row);
            MemorySegment.copy(d, 0, in, ValueLayout.JAVA_INT, 4L * (batch + (long) b * maxDrafts), d.length);
            in.setAtIndex(ValueLayout.JAVA_INT, batch + (long) batch * maxDrafts + b, d.length);
            if (mode == VerifyMode.PROBABILISTIC) {
                double[] u = uniforms.get(b);
                MemorySegment.copy(u, 0, in, ValueLayout.JAVA_DOUBLE, uniformOffset + 8L * b * (maxDrafts + 1),
                        Math.min(u.length, maxDrafts + 1));
            }
            row += d.length + 1;
        }
        long outBytes = 4L * outputInts(batch, maxDrafts);
        output.ensure(outBytes);
        MemorySegment out = output.host(outBytes);
        input.device().copyFromAsync(in, stream);
        long base = input.device().address();
        enqueue(stream, mode, batch, maxDrafts, vocab, targetRows, base, base + 4L * batch,
                base + 4L * (batch + (long) batch * maxDrafts), draftProbs,
                mode == VerifyMode.PROBABILISTIC ? base + uniformOffset : 0, output.device().address());
        output.device().copyToAsync(out, stream);
        if (stream == null) context.synchronize(); else stream.synchronize();
        return decode(out, batch, maxDrafts);
    }

    /**
     * Queues the kernel over device-resident inputs on {@code stream}; nothing is read back.
     *
     * @param targetRow0 device int32 {@code [batch]}: index of sequence b's first target row, or 0 for
     *                   {@code b * (maxDrafts + 1)}
     * @param draftTokens device int32 {@code [batch][maxDrafts]}
     * @param numDrafts  device int32 {@code [batch]}, each in [0, maxDrafts]
     * @param draftProbs device fp32 {@code [batch][maxDrafts][vocab]} or 0 (one-hot drafter)
     * @param uniforms   device fp64 {@code [batch][maxDrafts + 1]} (probabilistic; 0 for greedy)
     * @param out        device int32 {@code [batch][maxDrafts + 2]}: accepted count a, then a + 1 tokens;
     *                   {@link #decode} reads it
     */
    public void enqueue(CudaStream stream, VerifyMode mode, int batch, int maxDrafts, int vocab, long targetRows,
                        long targetRow0, long draftTokens, long numDrafts, long draftProbs, long uniforms, long out) {
        Objects.requireNonNull(mode, "mode");
        checkShape(batch, maxDrafts, vocab);
        if (batch == 0) return;
        if (targetRows == 0) throw new IllegalArgumentException("targetRows is a null device pointer");
        if (numDrafts == 0 || out == 0 || (maxDrafts > 0 && draftTokens == 0)) {
            throw new IllegalArgumentException("draftTokens, numDrafts and out must be device pointers, got "
                    + draftTokens + ", " + numDrafts + ", " + out);
        }
        if (mode == VerifyMode.PROBABILISTIC && uniforms == 0) {
            throw new IllegalArgumentException("probabilistic verification needs the uniforms buffer [batch][maxDrafts + 1]");
        }
        kernel.launch(Dim3.of(batch), Dim3.of(THREADS), 0, stream, KernelArgs.create()
                .i32(mode == VerifyMode.PROBABILISTIC ? 1 : 0).i32(maxDrafts).i32(vocab).ptr(targetRows)
                .ptr(targetRow0).ptr(draftTokens).ptr(numDrafts).ptr(draftProbs).ptr(uniforms).ptr(out));
    }

    /** Ints in the output of {@code batch} sequences: {@code batch * (maxDrafts + 2)}. */
    public static long outputInts(int batch, int maxDrafts) {
        return (long) batch * (maxDrafts + 2);
    }

    /** The results in a host copy of the kernel's output {@code [batch][maxDrafts + 2]}. */
    public static List<VerificationResult> decode(MemorySegment out, int batch, int maxDrafts) {
        checkShape(batch, maxDrafts, 1);
        if (out.byteSize() < 4L * outputInts(batch, maxDrafts)) {
            throw new IllegalArgumentException("the output holds " + out.byteSize() + " bytes, " + batch
                    + " sequences with up to " + maxDrafts + " drafts need " + 4L * outputInts(batch, maxDrafts));
        }
        List<VerificationResult> results = new ArrayList<>(batch);
        for (int b = 0; b < batch; b++) {
            long row = (long) b * (maxDrafts + 2);
            int accepted = out.getAtIndex(ValueLayout.JAVA_INT, row);
            if (accepted < 0 || accepted > maxDrafts) {
                throw new IllegalStateException("sequence " + b + " reports " + accepted + " accepted drafts, outside [0, "
                        + maxDrafts + "]: the output buffer was not written by rs_verify with these shapes");
            }
            int[] tokens = new int[accepted + 1];
            MemorySegment.copy(out, ValueLayout.JAVA_INT, 4L * (row + 1), tokens, 0, accepted + 1);
            results.add(new VerificationResult(tokens, accepted));
        }
        return results;
    }

    /** Checks the host-side inputs of {@link #verify}; returns the batch size. */
    static int checkHostInputs(VerifyMode mode, long targetRows, int vocab, List<int[]> drafts, int maxDrafts,
                               List<double[]> uniforms) {
        Objects.requireNonNull(mode, "mode");
        Objects.requireNonNull(drafts, "drafts");
        checkShape(drafts.size(), maxDrafts, vocab);
        if (targetRows == 0 && !drafts.isEmpty()) {
            throw new IllegalArgumentException("targetRows is a null device pointer");
        }
        if (mode == VerifyMode.PROBABILISTIC) {
            if (uniforms == null || uniforms.size() != drafts.size()) {
                throw new IllegalArgumentException("probabilistic verification needs one uniforms array per sequence: "
                        + drafts.size() + " sequences, " + (uniforms == null ? "none" : uniforms.size() + " arrays"));
            }
        }
        for (int b = 0; b < drafts.size(); b++) {
            int[] d = drafts.get(b);
            if (d == null) throw new IllegalArgumentException("drafts of sequence " + b + " are null; pass an empty array");
            if (d.length > maxDrafts) {
                throw new IllegalArgumentException("sequence " + b + " has " + d.length + " drafts, more than maxDrafts="
                        + maxDrafts);
            }
            for (int i = 0; i < d.length; i++) {
                if (d[i] < 0 || d[i] >= vocab) {
                    throw new IllegalArgumentException("draft token " + d[i] + " at position " + i + " of sequence " + b
                            + " is outside the vocabulary [0, " + vocab + ")");
                }
            }
            if (mode == VerifyMode.PROBABILISTIC) {
                double[] u = uniforms.get(b);
                if (u == null || u.length < d.length + 1) {
                    throw new IllegalArgumentException("sequence " + b + " has " + d.length + " drafts and needs at least "
                            + (d.length + 1) + " uniforms, got " + (u == null ? "null" : u.length));
                }
                for (int j = 0; j < Math.min(u.length, maxDrafts + 1); j++) {
                    if (!(u[j] >= 0 && u[j] < 1)) {
                        throw new IllegalArgumentException("uniform " + j + " of sequence " + b + " is " + u[j]
                                + ", outside [0, 1)");
                    }
                }
            }
        }
        return drafts.size();
    }

    private static void checkShape(int batch, int maxDrafts, int vocab) {
        if (batch < 0) throw new IllegalArgumentException("batch must be >= 0, got " + batch);
        if (maxDrafts < 0) throw new IllegalArgumentException("maxDrafts must be >= 0, got " + maxDrafts);
        if (vocab < 1) throw new IllegalArgumentException("vocab must be >= 1, got " + vocab);
    }

    @Override
    public void close() {
        output.close();
        input.close();
        module.close();
    }
}
