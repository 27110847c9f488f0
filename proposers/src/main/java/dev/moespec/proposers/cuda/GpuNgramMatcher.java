package dev.moespec.proposers.cuda;

import dev.moespec.cuda.CudaContext;
import dev.moespec.cuda.CudaFunction;
import dev.moespec.cuda.CudaModule;
import dev.moespec.cuda.CudaStream;
import dev.moespec.cuda.Dim3;
import dev.moespec.cuda.KernelArgs;
import dev.moespec.cuda.StagingBuffer;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * Prompt-lookup drafting on the GPU ({@code ngram.cu}, kernel {@code ngram_propose}, one CTA per sequence): for
 * every history, the up-to-k tokens that followed the most recent earlier occurrence of its longest suffix n-gram,
 * exactly what the CPU {@code NgramProposer} returns.
 *
 * <p>{@link #propose} packs the histories into a reused page-locked buffer, uploads them with one copy, launches,
 * and reads the answers back with one copy, all on this matcher's stream; the buffers grow only when a step is
 * larger than every step before. {@link #enqueue} is the device-resident form for a caller whose histories already
 * live on the GPU. Used from one thread at a time.
 */
public final class GpuNgramMatcher implements AutoCloseable {
    private static final int THREADS = 256;

    private final CudaModule module;
    private final CudaFunction kernel;
    private final CudaStream stream;
    private final StagingBuffer input;   // [batch + 1] offsets, then the tokens
    private final StagingBuffer output;  // [batch][k + 1]

    /** Loads the proposers' fatbin into {@code context} and creates the matcher's stream and buffers. */
    public GpuNgramMatcher(CudaContext context) {
        Objects.requireNonNull(context, "context");
        this.module = ProposerKernels.load(context);
        try {
            this.kernel = module.function("ngram_propose");
            this.stream = CudaStream.create(context);
            this.input = new StagingBuffer(context, 1 << 16);
            this.output = new StagingBuffer(context, 1 << 12);
        } catch (RuntimeException e) {
            module.close();
            throw e;
        }
    }

    /**
     * The proposal for every history, in order (each 0..k tokens); blocks until the GPU has answered.
     *
     * @throws IllegalArgumentException when a history is null or the batch holds more tokens than an int indexes
     */
    public List<int[]> propose(List<int[]> histories, NgramLookup lookup) {
        Objects.requireNonNull(lookup, "lookup");
        long[] offsets = packedOffsets(histories);
        int batch = histories.size();
        if (batch == 0) return List.of();
        long inBytes = 4L * (batch + 1) + 4L * offsets[batch];
        input.ensure(inBytes);
        MemorySegment in = input.host(inBytes);
        for (int b = 0; b <= batch; b++) in.setAtIndex(ValueLayout.JAVA_INT, b, (int) offsets[b]);
        for (int b = 0; b < batch; b++) {
            int[] h = histories.get(b);
            MemorySegment.copy(h, 0, in, ValueLayout.JAVA_INT, 4L * (batch + 1 + offsets[b]), h.length);
        }
        long outBytes = 4L * batch * (lookup.k() + 1);
        output.ensure(outBytes);
        MemorySegment out = output.host(outBytes);
        input.device().copyFromAsync(in, stream);
        long tokens = input.device().address() + 4L * (batch + 1);
        enqueue(stream, batch, tokens, input.device().address(), lookup, output.device().address());
        output.device().copyToAsync(out, stream);
        stream.synchronize();
        List<int[]> drafts = new ArrayList<>(batch);
        for (int b = 0; b < batch; b++) {
            long row = (long) b * (lookup.k() + 1);
            int count = out.getAtIndex(ValueLayout.JAVA_INT, row);
            int[] draft = new int[count];
            MemorySegment.copy(out, ValueLayout.JAVA_INT, 4L * (row + 1), draft, 0, count);
            drafts.add(draft);
        }
        return drafts;
    }

    /**
     * Queues the lookup over device-resident histories on {@code stream}.
     *
     * @param tokens  device int32 token ids of every history back to back
     * @param offsets device int32 {@code [batch + 1]}: history b is {@code tokens[offsets[b], offsets[b+1])}
     * @param out     device int32 {@code [batch][k + 1]}: the count (0..k), then the proposed tokens
     */
    public void enqueue(CudaStream stream, int batch, long tokens, long offsets, NgramLookup lookup, long out) {
        if (batch < 0) throw new IllegalArgumentException("batch must be >= 0, got " + batch);
        if (batch == 0) return;
        kernel.launch(Dim3.of(batch), Dim3.of(THREADS), 0, stream, KernelArgs.create().ptr(tokens).ptr(offsets)
                .i32(lookup.minN()).i32(lookup.maxN()).i32(lookup.k()).i32(lookup.maxModelLen()).ptr(out));
    }

    /** {@code [batch + 1]} start of each history in the packed token array; checks the batch fits int indexing. */
    static long[] packedOffsets(List<int[]> histories) {
        Objects.requireNonNull(histories, "histories");
        long[] offsets = new long[histories.size() + 1];
        for (int b = 0; b < histories.size(); b++) {
            int[] h = histories.get(b);
            if (h == null) {
                throw new IllegalArgumentException("token history of sequence " + b + " is null; pass an empty array");
            }
            offsets[b + 1] = offsets[b] + h.length;
        }
        if (offsets[histories.size()] + histories.size() + 1 > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("the batch holds " + offsets[histories.size()] + " tokens over "
                    + histories.size() + " histories, more than the kernel's int32 offsets can index; split the batch");
        }
        return offsets;
    }

    @Override
    public void close() {
        output.close();
        input.close();
        stream.close();
        module.close();
    }
}
