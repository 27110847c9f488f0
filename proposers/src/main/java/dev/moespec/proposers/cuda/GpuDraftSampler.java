package dev.moespec.proposers.cuda;

import dev.moespec.cuda.CudaContext;
import dev.moespec.cuda.CudaFunction;
import dev.moespec.cuda.CudaModule;
import dev.moespec.cuda.CudaStream;
import dev.moespec.cuda.DeviceBuffer;
import dev.moespec.cuda.Dim3;
import dev.moespec.cuda.KernelArgs;
import dev.moespec.cuda.StagingBuffer;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.List;
import java.util.Objects;

/**
 * Draft-token sampling over logits rows already on the GPU ({@code draft_sampling.cu}, kernel {@code ds_sample},
 * one CTA per row): per row the token and, optionally, the fp32 probability row it was drawn from, which the GPU
 * rejection sampler takes as the draft distribution. Greedy rows give the argmax (ties to the lowest id) and a
 * one-hot row. Picks the same token as the engine's CPU {@code Sampler} for the same logits, settings and uniform.
 *
 * <p>{@link #sample} uploads the per-row settings through a reused page-locked buffer, launches and reads the tokens
 * back (one copy each way, on the caller's stream). {@link #enqueue} is the device-resident form (settings already on
 * the device; nothing read back), usable inside a CUDA graph capture once {@link #reserve} has sized the scratch.
 * Used from one thread at a time.
 */
public final class GpuDraftSampler implements AutoCloseable {
    private static final int THREADS = 256;

    private final CudaContext context;
    private final CudaModule module;
    private final CudaFunction kernel;
    private final StagingBuffer settings;  // [rows][3] fp64 (temperature, top_p, u), then [rows] int32 top_k
    private final StagingBuffer tokens;    // [rows] int32
    private DeviceBuffer scratch;          // [rows][vocab] fp64

    /** Loads the proposers' fatbin into {@code context}. */
    public GpuDraftSampler(CudaContext context) {
        this.context = Objects.requireNonNull(context, "context");
        this.module = ProposerKernels.load(context);
        try {
            this.kernel = module.function("ds_sample");
            this.settings = new StagingBuffer(context, 1 << 12);
            this.tokens = new StagingBuffer(context, 1 << 10);
            this.scratch = DeviceBuffer.alloc(context, 0);
        } catch (RuntimeException e) {
            module.close();
            throw e;
        }
    }

    /** Sizes the work space for {@code rows × vocab}; call before capturing {@link #enqueue} into a graph. */
    public void reserve(int rows, int vocab) {
        long bytes = 8L * checkShape(rows, vocab);
        if (bytes > scratch.byteSize()) {
            scratch.close();
            scratch = DeviceBuffer.alloc(context, bytes);
        }
    }

    /**
     * Samples one token per row of {@code logits} and waits for it.
     *
     * @param logits device fp32 {@code [rows][vocab]}
     * @param rows   one {@link DraftSampling} per row
     * @param probs  device fp32 {@code [rows][vocab]} that receives each row's sampling distribution, or 0 for none
     * @return the token of every row
     */
    public int[] sample(CudaStream stream, long logits, int vocab, List<DraftSampling> rows, long probs) {
        return sample(stream, logits, vocab, rows, probs, vocab);
    }

    /**
     * Like {@link #sample(CudaStream, long, int, List, long)}, with row r of the distributions written at
     * {@code probs + 4 * r * probsRowStride} bytes: the drafter of position j of K passes
     * {@code probs = base + 4L * vocab * j} and {@code probsRowStride = K * vocab} to fill a {@code [B][K][vocab]}
     * buffer, the layout {@code GpuRejectionSampler} reads.
     */
    public int[] sample(CudaStream stream, long logits, int vocab, List<DraftSampling> rows, long probs,
                        long probsRowStride) {
        Objects.requireNonNull(rows, "rows");
        int n = rows.size();
        checkShape(n, vocab);
        checkStride(probsRowStride, vocab);
        if (n == 0) return new int[0];
        if (logits == 0) throw new IllegalArgumentException("logits is a null device pointer");
        reserve(n, vocab);
        long settingsBytes = 24L * n + 4L * n;
        settings.ensure(settingsBytes);
        MemorySegment s = settings.host(settingsBytes);
        for (int r = 0; r < n; r++) {
            DraftSampling d = Objects.requireNonNull(rows.get(r), "sampling settings of row " + r);
            s.setAtIndex(ValueLayout.JAVA_DOUBLE, 3L * r, d.temperature());
            s.setAtIndex(ValueLayout.JAVA_DOUBLE, 3L * r + 1, d.topP());
            s.setAtIndex(ValueLayout.JAVA_DOUBLE, 3L * r + 2, d.u());
            s.setAtIndex(ValueLayout.JAVA_INT, 6L * n + r, d.topK());
        }
        tokens.ensure(4L * n);
        MemorySegment out = tokens.host(4L * n);
        settings.device().copyFromAsync(s, stream);
        long params = settings.device().address();
        enqueue(stream, n, vocab, logits, params, params + 24L * n, tokens.device().address(), probs, probsRowStride);
        tokens.device().copyToAsync(out, stream);
        if (stream == null) context.synchronize(); else stream.synchronize();
        return out.toArray(ValueLayout.JAVA_INT);
    }

    /**
     * Queues the kernel over device-resident inputs; {@link #reserve} must have sized the scratch for
     * {@code rows × vocab}.
     *
     * @param params device fp64 {@code [rows][3]}: temperature (≤ 0 greedy), top_p, u
     * @param topK   device int32 {@code [rows]} (≤ 0 = all)
     * @param tokens device int32 {@code [rows]} out
     * @param probs  device fp32 out, row r at element {@code r * probsRowStride}, or 0 for none
     * @param probsRowStride elements between two rows of {@code probs}, at least {@code vocab}
     */
    public void enqueue(CudaStream stream, int rows, int vocab, long logits, long params, long topK, long tokens,
                        long probs, long probsRowStride) {
        long cells = checkShape(rows, vocab);
        checkStride(probsRowStride, vocab);
        if (rows == 0) return;
        if (8L * cells > scratch.byteSize()) {
            throw new IllegalStateException("the draft sampler's scratch holds " + scratch.byteSize() / 8 + " values but "
                    + rows + " rows x " + vocab + " need " + cells + "; call reserve(rows, vocab) first");
        }
        kernel.launch(Dim3.of(rows), Dim3.of(THREADS), 0, stream, KernelArgs.create().ptr(logits).i32(vocab)
                .ptr(params).ptr(topK).ptr(scratch.address()).ptr(tokens).ptr(probs).i64(probsRowStride));
    }

    static long checkShape(int rows, int vocab) {
        if (rows < 0) throw new IllegalArgumentException("rows must be >= 0, got " + rows);
        if (vocab < 1) throw new IllegalArgumentException("vocab must be >= 1, got " + vocab);
        return (long) rows * vocab;
    }

    static void checkStride(long probsRowStride, int vocab) {
        if (probsRowStride < vocab) {
            throw new IllegalArgumentException("probsRowStride " + probsRowStride + " is below the vocabulary " + vocab
                    + ": rows would overlap");
        }
    }

    @Override
    public void close() {
        scratch.close();
        tokens.close();
        settings.close();
        module.close();
    }
}
