package dev.moespec.engine.spec.gpu;

import dev.moespec.api.config.ModelRole;
import dev.moespec.cuda.CudaContext;
import dev.moespec.cuda.CudaStream;
import dev.moespec.cuda.LaunchLedger;
import dev.moespec.cuda.StagingBuffer;
import dev.moespec.engine.spec.BatchVerifier;
import dev.moespec.engine.spec.Verification;
import dev.moespec.engine.spec.VerificationResult;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

/**
 * {@link BatchVerifier} on the GPU: uploads the step's target rows (and the drafter's distributions, when it has
 * them) into reused device buffers and runs {@link GpuRejectionSampler} over the whole batch, one launch and one
 * readback. Probabilistic verification draws each sequence's {@code k + 1} uniforms from its generator up front (the
 * kernel consumes them in the CPU sampler's order; the CPU sampler draws only as many as it uses, so the two paths
 * follow different random streams for one seed, each with the target's distribution).
 */
public final class GpuVerifier implements BatchVerifier {
    private final CudaContext context;
    private final CudaStream stream;
    private final GpuRejectionSampler sampler;
    private final StagingBuffer rows;
    private final StagingBuffer draftRows;

    private GpuVerifier(CudaContext context) {
        this.context = context;
        CudaStream s = null;
        GpuRejectionSampler r = null;
        StagingBuffer t = null;
        try {
            s = CudaStream.create(context);
            r = new GpuRejectionSampler(context);
            t = new StagingBuffer(context, 1 << 16);
            draftRows = new StagingBuffer(context, 1 << 16);
        } catch (RuntimeException e) {
            if (t != null) t.close();
            if (r != null) r.close();
            if (s != null) s.close();
            throw e;
        }
        stream = s;
        sampler = r;
        rows = t;
    }

    /** A verifier on device {@code ordinal} (its own stream and buffers in the device's primary context). */
    public static GpuVerifier open(int ordinal) {
        CudaContext context = CudaContext.open(ordinal);
        try {
            return new GpuVerifier(context);
        } catch (RuntimeException e) {
            context.close();
            throw e;
        }
    }

    @Override
    public List<VerificationResult> verify(List<Verification> batch, boolean greedy, List<SplittableRandom> randoms) {
        if (batch.isEmpty()) return List.of();
        int vocab = batch.getFirst().targetProbs()[0].length;
        int maxDrafts = 1;
        boolean withDraftProbs = false;
        long targetRowCount = 0;
        for (Verification v : batch) {
            maxDrafts = Math.max(maxDrafts, v.draftTokens().length);
            withDraftProbs |= v.draftProbs() != null;
            targetRowCount += v.targetProbs().length;
        }
        rows.ensure(4L * targetRowCount * vocab);
        MemorySegment host = rows.host(4L * targetRowCount * vocab);
        long row = 0;
        for (Verification v : batch) {
            for (float[] p : v.targetProbs()) {
                MemorySegment.copy(p, 0, host, ValueLayout.JAVA_FLOAT, 4L * row++ * vocab, vocab);
            }
        }
        rows.device().copyFromAsync(host, stream);
        long draftPointer = 0;
        if (withDraftProbs) {
            long bytes = 4L * batch.size() * maxDrafts * vocab;
            draftRows.ensure(bytes);
            MemorySegment d = draftRows.host(bytes);
            for (int b = 0; b < batch.size(); b++) {
                float[][] probs = batch.get(b).draftProbs();
                for (int i = 0; probs != null && i < probs.length; i++) {
                    MemorySegment.copy(probs[i], 0, d, ValueLayout.JAVA_FLOAT, 4L * ((long) b * maxDrafts + i) * vocab, vocab);
                }
            }
            draftRows.device().copyFromAsync(d, stream);
            draftPointer = draftRows.device().address();
        }
        List<int[]> drafts = new ArrayList<>(batch.size());
        List<double[]> uniforms = greedy ? null : new ArrayList<>(batch.size());
        for (int b = 0; b < batch.size(); b++) {
            Verification v = batch.get(b);
            drafts.add(v.draftTokens());
            if (!greedy) {
                double[] u = new double[v.draftTokens().length + 1];
                for (int i = 0; i < u.length; i++) u[i] = randoms.get(b).nextDouble();
                uniforms.add(u);
            }
        }
        // verification is the target's work: its launches count under the target's role
        try (LaunchLedger.Scope scope = LaunchLedger.scope(ModelRole.TARGET.label())) {
            return sampler.verify(stream, greedy ? VerifyMode.GREEDY : VerifyMode.PROBABILISTIC, rows.device().address(),
                    vocab, drafts, maxDrafts, draftPointer, uniforms);
        }
    }

    @Override
    public String where() {
        return "gpu";
    }

    @Override
    public void close() {
        try {
            draftRows.close();
            rows.close();
            sampler.close();
            stream.close();
        } finally {
            context.close();
        }
    }
}
