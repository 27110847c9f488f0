package dev.moespec.proposers.ngram;

import dev.moespec.api.device.DeviceInfo;
import dev.moespec.api.proposer.Proposal;
import dev.moespec.api.proposer.ProposalRequest;
import dev.moespec.api.proposer.Proposer;
import dev.moespec.api.proposer.ProposerContext;
import dev.moespec.cuda.CudaContext;
import dev.moespec.proposers.cuda.GpuNgramMatcher;
import dev.moespec.proposers.cuda.NgramLookup;
import dev.moespec.proposers.cuda.ProposerKernels;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Prompt-lookup drafting: for each sequence, the up-to-k tokens that followed the most recent earlier occurrence of
 * the longest suffix n-gram with n in [prompt_lookup_min, prompt_lookup_max]. No draft model and no draft
 * probabilities (the verifier uses p_draft = 1).
 *
 * <p>When the context's {@link ProposerContext#device() device} is a CUDA GPU and this jar carries its kernels, the
 * whole batch is matched there in one launch ({@link GpuNgramMatcher}, one CTA per sequence); otherwise on the CPU
 * with {@link SuffixMatcher}. Both give the same drafts. The CPU path holds no state; the GPU path holds a context,
 * a stream and reused staging buffers, released by {@link #close()}.
 */
public final class NgramProposer implements Proposer {

    private static final int[] NONE = new int[0];

    private final int k;
    private final int minN;
    private final int maxN;
    private final int maxModelLen;
    private final CudaContext cuda;      // null on the CPU path
    private final GpuNgramMatcher gpu;   // null on the CPU path

    /** A proposer with {@code context}'s k, lookup bounds and max_model_len, on {@code context.device()}. */
    public NgramProposer(ProposerContext context) {
        this.k = context.numSpeculativeTokens();
        this.minN = context.promptLookupMin();
        this.maxN = context.promptLookupMax();
        this.maxModelLen = context.maxModelLen();
        DeviceInfo device = context.device();
        if (device.isCuda() && ProposerKernels.present()) {
            cuda = CudaContext.open(device.ordinal());
            try {
                gpu = new GpuNgramMatcher(cuda);
            } catch (RuntimeException e) {
                cuda.close();
                throw e;
            }
        } else {
            cuda = null;
            gpu = null;
        }
    }

    /** Whether drafts are matched on the GPU (a CUDA device in the context and kernels in this jar). */
    public boolean onGpu() {
        return gpu != null;
    }

    @Override
    public Proposal propose(ProposalRequest request) {
        if (gpu != null) {
            return Proposal.tokensOnly(gpu.propose(request.tokenHistories(), new NgramLookup(k, minN, maxN, maxModelLen)));
        }
        List<int[]> drafts = new ArrayList<>(request.batchSize());
        for (int[] history : request.tokenHistories()) {
            drafts.add(proposeOne(history));
        }
        return Proposal.tokensOnly(drafts);
    }

    /** The draft for one history; empty when nothing matches or the sequence is already at max_model_len. */
    int[] proposeOne(int[] history) {
        int budget = Math.min(k, maxModelLen - history.length);
        if (budget <= 0) return NONE;
        int start = SuffixMatcher.continuationStart(history, minN, maxN);
        if (start < 0) return NONE;
        return Arrays.copyOfRange(history, start, Math.min(history.length, start + budget));
    }

    @Override
    public void close() {
        if (gpu != null) {
            gpu.close();
            cuda.close();
        }
    }
}
