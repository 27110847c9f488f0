package dev.moespec.engine.spec;

import dev.moespec.api.config.ModelRole;
import dev.moespec.api.proposer.DraftChunk;
import dev.moespec.api.proposer.Proposal;
import dev.moespec.api.proposer.ProposalRequest;
import dev.moespec.api.proposer.Proposer;
import dev.moespec.api.proposer.ProposerContext;
import dev.moespec.cuda.LaunchCounts;
import dev.moespec.cuda.LaunchLedger;
import dev.moespec.engine.cuda.CudaFeatureHead;
import dev.moespec.engine.cuda.FusedRound;
import dev.moespec.engine.generate.StopReason;
import dev.moespec.engine.model.ModelRunner;
import dev.moespec.engine.model.SequenceChunk;
import dev.moespec.engine.model.StepOutput;
import dev.moespec.engine.sampling.Sampler;
import dev.moespec.engine.sampling.SamplingParams;
import dev.moespec.engine.spec.gpu.FusedDrafting;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.SplittableRandom;

/**
 * The speculative decoding loop over a batch of sequences (vLLM's draft → verify → accept):
 * <ol>
 *   <li>prefill every prompt in one target pass, sample the first token, keep the target features {@code h_t};</li>
 *   <li>ask the proposer for up to k drafts per sequence (histories, ids and features in one request);</li>
 *   <li>one batched target pass scores, per sequence, its last committed token plus its drafts (k + 1 positions);</li>
 *   <li>the rejection sampler accepts a prefix (greedy: argmax match; otherwise p_target/p_draft ≥ u) and emits a
 *       correction or bonus token; the target's KV cache is truncated to the committed tokens (the proposer rolls
 *       its own back by comparing histories);</li>
 * </ol>
 * until every sequence has {@code max_tokens} tokens or its EOS. Without a proposer it is plain batched decoding
 * (one token per pass), the baseline for tokens/s. Greedy output equals greedy decoding token for token.
 *
 * <p>The metrics carry the kernel launches the run made per role and kernel image ({@link LaunchLedger}: the
 * runners and drafter networks count their own work under their role), so a report proves which plugin's kernels
 * each role ran. The loop itself runs on the host: one readback per target pass and per drafter step.
 */
public final class SpeculativeGenerator {
    private final ModelRunner target;
    private final Optional<Proposer> proposer;
    private final String method;
    private final ProposerContext context;
    private final int eosId;
    private final Map<String, String> backends;
    private final BatchVerifier verifier;
    private final Optional<FusedDrafting> fused;

    /** With the host rejection sampler. */
    public SpeculativeGenerator(ModelRunner target, Optional<Proposer> proposer, String method,
                                ProposerContext context, int eosId, Map<String, String> backends) {
        this(target, proposer, method, context, eosId, backends, BatchVerifier.host());
    }

    /**
     * @param proposer empty for plain decoding
     * @param context  the proposer's context (its k and limits; proposals are checked against it)
     * @param backends which MoE backend each role runs, for the metrics
     * @param verifier the rejection sampler (host or GPU); the caller owns it
     */
    public SpeculativeGenerator(ModelRunner target, Optional<Proposer> proposer, String method,
                                ProposerContext context, int eosId, Map<String, String> backends, BatchVerifier verifier) {
        this(target, proposer, method, context, eosId, backends, verifier, Optional.empty());
    }

    /**
     * @param fused greedy rounds with the proposer's feature chain fused behind verification on the GPU, where they
     *              fit (see {@link FusedDrafting}); other requests go through the proposer
     */
    public SpeculativeGenerator(ModelRunner target, Optional<Proposer> proposer, String method, ProposerContext context,
                                int eosId, Map<String, String> backends, BatchVerifier verifier,
                                Optional<FusedDrafting> fused) {
        this.verifier = java.util.Objects.requireNonNull(verifier, "verifier");
        this.fused = proposer.isPresent() ? fused : Optional.empty();
        this.target = target;
        this.proposer = proposer;
        this.method = proposer.isPresent() ? method : "none";
        this.context = context;
        this.eosId = eosId;
        this.backends = backends;
    }

    /** Per-sequence state of the loop. */
    private static final class Seq {
        final int index;
        final long id;
        final int handle;
        int[] history;
        final List<float[]> features = new ArrayList<>();
        final int[] out;
        int produced;
        StopReason stop;
        final SplittableRandom random;
        int headSequence = -1; // its head sequence on the fused path
        int prefillRow;        // its first row in the prefill pass

        Seq(int index, long id, int handle, int[] prompt, int maxTokens, SplittableRandom random) {
            this.index = index;
            this.id = id;
            this.handle = handle;
            this.history = prompt;
            this.out = new int[maxTokens];
            this.random = random;
        }
    }

    private static long nextId;

    public SpecGenerationResult generate(List<int[]> prompts, SamplingParams params, BatchListener listener) {
        if (prompts.isEmpty()) throw new IllegalArgumentException("no prompts to generate from");
        int k = proposer.isPresent() ? context.numSpeculativeTokens() : 0;
        SpecDecodeStats stats = new SpecDecodeStats(Math.max(1, k));
        List<Seq> all = new ArrayList<>();
        LaunchCounts launchesBefore = LaunchLedger.snapshot();
        long start = System.nanoTime();
        Tally tally = new Tally();
        try {
            // room past the last token for a round's drafts: k, and its siblings, which sit past the chain
            int reserve = k + fused.map(x -> x.siblings(prompts.size(), k)).orElse(0);
            for (int i = 0; i < prompts.size(); i++) {
                int[] prompt = prompts.get(i);
                if (prompt.length == 0) throw new IllegalArgumentException("prompt " + i + " has no tokens");
                long seed = params.seed().isPresent() ? params.seed().getAsLong() + i : new SplittableRandom().nextLong();
                all.add(new Seq(i, nextId(), target.open(prompt.length + params.maxTokens() + reserve), prompt,
                        params.maxTokens(), new SplittableRandom(seed)));
            }
            // prefill: one pass over every prompt. Its features come back only for a proposer that reads them on the
            // host: the fused path's catch-up, queued right behind it, takes them on the device when it fits; plain
            // decoding never reads them.
            FusedDrafting f = fused.filter(x -> fits(x, all, params, k)).orElse(null);
            List<SequenceChunk> prefill = new ArrayList<>();
            int prefillRows = 0;
            for (Seq s : all) {
                prefill.add(SequenceChunk.last(s.handle, s.history));
                s.prefillRow = prefillRows;
                prefillRows += s.history.length;
            }
            boolean catchUpOnDevice = f != null && f.catchesUpOnTarget(prefillRows, all.size(), k);
            // fixed while the batch lives: the sequences reserved room for them, the first batch's graphs fit them
            int sib = f == null ? 0 : f.siblings(all.size(), k);
            int[][] firstDrafts = null; // the fused path's first drafts, per sequence of all
            if (catchUpOnDevice) {
                firstDrafts = prefillAndCatchUp(f, all, prefill, k, sib, params, listener);
            } else {
                boolean hostFeatures = proposer.isPresent();
                StepOutput first = hostFeatures ? target.step(prefill) : target.stepLogitsOnly(prefill);
                for (int c = 0; c < all.size(); c++) {
                    Seq s = all.get(c);
                    if (hostFeatures) for (int r = 0; r < s.history.length; r++) s.features.add(first.feature(c, r));
                    float[] p = probabilities(first.lastLogits(c), params);
                    commit(s, new int[] {RejectionSampler.sample(p, s.random)}, params, listener);
                }
            }
            long prefillNs = System.nanoTime() - start;
            List<Seq> active = all.stream().filter(s -> s.stop == null).toList();
            if (f != null && !active.isEmpty()) {
                int[][] drafts;
                if (firstDrafts == null) {
                    long t0 = System.nanoTime();
                    drafts = catchUp(f, active, k, sib);
                    tally.proposeNs += System.nanoTime() - t0;
                } else {
                    int[][] byIndex = firstDrafts;
                    drafts = active.stream().map(s -> byIndex[s.index]).toArray(int[][]::new);
                }
                fusedRounds(f, active, drafts, k, sib, params, listener, stats, tally);
                active = List.of();
            }
            if (proposer.isEmpty() && params.isGreedy() && !active.isEmpty()) {
                greedyDecode(active, params, listener, stats, tally);
                active = List.of();
            }
            while (!active.isEmpty()) {
                long t0 = System.nanoTime();
                Proposal proposal = propose(active);
                long t1 = System.nanoTime();
                tally.proposeNs += t1 - t0;
                List<SequenceChunk> chunks = new ArrayList<>();
                for (int a = 0; a < active.size(); a++) {
                    Seq s = active.get(a);
                    int[] drafts = proposal.tokens(a);
                    int[] chunk = new int[drafts.length + 1];
                    chunk[0] = s.history[s.history.length - 1];
                    System.arraycopy(drafts, 0, chunk, 1, drafts.length);
                    chunks.add(new SequenceChunk(s.handle, chunk, true));
                }
                long t2 = System.nanoTime();
                StepOutput out = target.step(chunks);
                tally.targetNs += System.nanoTime() - t2;
                tally.passes++;
                tally.steps += active.size();
                List<Verification> batch = new ArrayList<>(active.size());
                List<SplittableRandom> randoms = new ArrayList<>(active.size());
                for (int a = 0; a < active.size(); a++) {
                    int[] drafts = proposal.tokens(a);
                    float[][] targetProbs = new float[drafts.length + 1][];
                    for (int r = 0; r <= drafts.length; r++) targetProbs[r] = probabilities(out.logits(a, r), params);
                    batch.add(new Verification(drafts, proposal.probabilities(a).orElse(null), targetProbs));
                    randoms.add(active.get(a).random);
                }
                List<VerificationResult> results = verifier.verify(batch, params.isGreedy(), randoms);
                for (int a = 0; a < active.size(); a++) {
                    Seq s = active.get(a);
                    VerificationResult result = results.get(a);
                    stats.record(batch.get(a).draftTokens().length, result);
                    int n = s.history.length;
                    // keep the last committed token and the accepted drafts; their features are real now
                    target.truncate(s.handle, n + result.accepted());
                    for (int r = 0; r <= result.accepted(); r++) s.features.add(out.feature(a, r));
                    commit(s, result.tokens(), params, listener);
                }
                tally.verifyNs += System.nanoTime() - t1;
                for (Seq s : active) if (s.stop != null) proposer.ifPresent(p -> p.release(s.id));
                active = active.stream().filter(s -> s.stop == null).toList();
            }
            long total = System.nanoTime() - start;
            return result(all, stats, k, tally, prefillNs, total, LaunchLedger.snapshot().since(launchesBefore));
        } finally {
            for (Seq s : all) {
                target.release(s.handle);
                if (s.headSequence >= 0) fused.orElseThrow().release(s.headSequence);
                proposer.ifPresent(p -> p.release(s.id));
            }
        }
    }

    /** Time and pass counts of a run's rounds after prefill. */
    private static final class Tally {
        long proposeNs, verifyNs, targetNs, passes, steps, fusedRounds, siblingsAccepted;
    }

    /**
     * Whether this run takes the fused path: greedy, speculative, every sequence's head entries within the model length
     * (the proposer would draft fewer near it) and the batch within the fused kernels. Asked before the prefill, so
     * each history is its prompt, one token short of the first round's.
     */
    private boolean fits(FusedDrafting f, List<Seq> all, SamplingParams params, int k) {
        if (!params.isGreedy() || k == 0) return false;
        int margin = 2 * k + f.siblings(all.size(), k); // a round's head entries: its chunk and the chain after it
        for (Seq s : all) if (s.history.length + 1 + s.out.length + margin > context.maxModelLen()) return false;
        return f.fits(all.size(), k);
    }

    /**
     * The greedy prefill of every prompt with the head's catch-up queued right behind it on the device, one
     * synchronisation for both ({@link FusedDrafting#prefillAndFirst}): commits each prompt's first token (the target's
     * argmax, as the host's greedy sampler picks it) and returns each sequence's first drafts. The head's entries are
     * the prompt's tokens 1.. and the first token, on the prefill's feature rows.
     */
    private int[][] prefillAndCatchUp(FusedDrafting f, List<Seq> all, List<SequenceChunk> prefill, int k, int sib,
                                      SamplingParams params, BatchListener listener) {
        List<DraftChunk> entries = new ArrayList<>(all.size());
        int[] featureRows = new int[all.size()];
        for (int c = 0; c < all.size(); c++) {
            Seq s = all.get(c);
            int n = s.history.length + 1; // with the first token, whose entry's token the device fills in
            openHead(f, s, n, k, sib);
            featureRows[c] = s.prefillRow;
            entries.add(new DraftChunk(s.headSequence, Arrays.copyOfRange(s.history, 1, n), null));
        }
        CudaFeatureHead.PrefillDrafts first = f.prefillAndFirst(prefill, entries, featureRows, k);
        for (int c = 0; c < all.size(); c++) {
            Seq s = all.get(c);
            commit(s, new int[] {first.firstTokens()[c]}, params, listener);
            f.truncate(s.headSequence, s.history.length - 1); // the chain's entries are speculative
        }
        return first.drafts();
    }

    /**
     * Opens {@code s}'s head sequence with room for {@code entries} entries, every token it may produce, and a round's
     * chunk (k drafts and {@code sib} siblings) and chain past them.
     */
    private static void openHead(FusedDrafting f, Seq s, int entries, int k, int sib) {
        s.headSequence = f.open(entries + s.out.length + 2 * k + sib);
    }

    /**
     * The first drafts of {@code active} after a prefill whose first tokens are committed: the head's catch-up over the
     * prompts' entries (as the proposer would make them), with the features the prefill brought back.
     */
    private int[][] catchUp(FusedDrafting f, List<Seq> active, int k, int sib) {
        List<DraftChunk> prompts = new ArrayList<>(active.size());
        for (Seq s : active) {
            int n = s.history.length;
            openHead(f, s, n, k, sib);
            prompts.add(new DraftChunk(s.headSequence, Arrays.copyOfRange(s.history, 1, n),
                    s.features.subList(0, n - 1).toArray(new float[0][])));
        }
        int[][] drafts;
        try (LaunchLedger.Scope scope = LaunchLedger.scope(ModelRole.DRAFT.label())) {
            drafts = f.first(prompts, k);
        }
        for (Seq s : active) f.truncate(s.headSequence, s.history.length - 1); // the chain's entries are speculative
        return drafts;
    }

    /**
     * The rounds of {@code active} with drafting fused behind verification ({@link FusedDrafting}) from its first
     * drafts: per round one device pass that verifies the drafts and drafts the next ones from the accepted rows.
     * Greedy acceptance on the device is the host's rule: the drafts up to the first that differs from the target's
     * argmax, then the argmax there.
     */
    private void fusedRounds(FusedDrafting f, List<Seq> active, int[][] drafts, int k, int sib, SamplingParams params,
                             BatchListener listener, SpecDecodeStats stats, Tally tally) {
        int[][] siblings = null; // the first round verifies chains: the catch-up drafts no siblings
        while (!active.isEmpty()) {
            long r0 = System.nanoTime();
            List<SequenceChunk> chunks = new ArrayList<>(active.size());
            int[] heads = new int[active.size()];
            for (int a = 0; a < active.size(); a++) {
                Seq s = active.get(a);
                int[] chunk = new int[1 + k + (siblings == null ? 0 : sib)];
                chunk[0] = s.history[s.history.length - 1];
                System.arraycopy(drafts[a], 0, chunk, 1, k);
                if (siblings != null) System.arraycopy(siblings[a], 0, chunk, 1 + k, sib);
                chunks.add(new SequenceChunk(s.handle, chunk, true));
                heads[a] = s.headSequence;
            }
            FusedRound round = f.round(chunks, heads, k, sib);
            tally.targetNs += System.nanoTime() - r0;
            tally.passes++;
            tally.fusedRounds++;
            tally.steps += active.size();
            List<Seq> next = new ArrayList<>(active.size());
            List<int[]> nextDrafts = new ArrayList<>(active.size()), nextSiblings = new ArrayList<>(active.size());
            for (int a = 0; a < active.size(); a++) {
                Seq s = active.get(a);
                int accepted = round.accepted()[a];
                int[] tokens = round.committed(a, drafts[a], siblings == null ? null : siblings[a]);
                if (round.siblingAccepted()[a]) tally.siblingsAccepted++;
                stats.record(k, new VerificationResult(tokens, accepted));
                int n = s.history.length;
                target.truncate(s.handle, n + accepted);
                f.truncate(s.headSequence, n + accepted);
                commit(s, tokens, params, listener);
                if (s.stop == null) {
                    next.add(s);
                    nextDrafts.add(round.drafts()[a]);
                    if (round.siblings() != null) nextSiblings.add(round.siblings()[a]);
                }
            }
            tally.verifyNs += System.nanoTime() - r0;
            active = next;
            drafts = nextDrafts.toArray(new int[0][]);
            siblings = round.siblings() == null ? null : nextSiblings.toArray(new int[0][]);
        }
    }

    /**
     * Plain greedy decoding through {@link ModelRunner#greedyStep}: a GPU runner takes the argmax on the device and
     * brings back only the tokens, as the fused speculative path does, so the baseline pays no more host work than
     * speculation. The same graphs as a one-token {@link ModelRunner#step} and the host's tie rule (lowest id), so the
     * same tokens.
     */
    private void greedyDecode(List<Seq> active, SamplingParams params, BatchListener listener, SpecDecodeStats stats,
                              Tally tally) {
        while (!active.isEmpty()) {
            long t0 = System.nanoTime();
            int n = active.size();
            int[] sequences = new int[n], tokens = new int[n];
            for (int a = 0; a < n; a++) {
                Seq s = active.get(a);
                sequences[a] = s.handle;
                tokens[a] = s.history[s.history.length - 1];
            }
            int[] next = target.greedyStep(sequences, tokens);
            tally.targetNs += System.nanoTime() - t0;
            tally.passes++;
            tally.steps += n;
            List<Seq> still = new ArrayList<>(n);
            for (int a = 0; a < n; a++) {
                Seq s = active.get(a);
                int[] emitted = {next[a]};
                stats.record(0, new VerificationResult(emitted, 0));
                commit(s, emitted, params, listener);
                if (s.stop == null) still.add(s);
            }
            tally.verifyNs += System.nanoTime() - t0;
            active = still;
        }
    }

    private static synchronized long nextId() {
        return nextId++;
    }

    private Proposal propose(List<Seq> active) {
        List<int[]> histories = new ArrayList<>(active.size());
        List<Long> ids = new ArrayList<>(active.size());
        List<List<float[]>> features = new ArrayList<>(active.size());
        for (Seq s : active) {
            histories.add(s.history);
            ids.add(s.id);
            features.add(s.features);
        }
        ProposalRequest request = new ProposalRequest(histories, ids, features);
        if (proposer.isEmpty()) return Proposal.tokensOnly(java.util.Collections.nCopies(active.size(), new int[0]));
        Proposal p;
        // drafting is the draft role's work: kernels a proposer launches itself (n-gram lookup) count there
        try (LaunchLedger.Scope scope = LaunchLedger.scope(ModelRole.DRAFT.label())) {
            p = proposer.get().propose(request);
        }
        p.requireValidFor(method, request, context);
        return p;
    }

    /** Appends emitted tokens to the sequence until max_tokens or EOS. */
    private void commit(Seq s, int[] tokens, SamplingParams params, BatchListener listener) {
        int take = 0;
        for (int t : tokens) {
            s.out[s.produced++] = t;
            take++;
            listener.onToken(s.index, t);
            if (t == eosId && !params.ignoreEos()) {
                s.stop = StopReason.EOS;
                break;
            }
            if (s.produced == s.out.length) {
                s.stop = StopReason.MAX_TOKENS;
                break;
            }
        }
        int[] h = Arrays.copyOf(s.history, s.history.length + take);
        System.arraycopy(tokens, 0, h, s.history.length, take);
        s.history = h;
    }

    private static float[] probabilities(float[] logits, SamplingParams params) {
        double[] p = Sampler.probabilities(logits, params);
        float[] f = new float[p.length];
        for (int i = 0; i < p.length; i++) f[i] = (float) p[i];
        return f;
    }

    private SpecGenerationResult result(List<Seq> all, SpecDecodeStats stats, int k, Tally tally, long prefillNs,
                                        long totalNs, LaunchCounts launches) {
        SpecDecodeStats.Snapshot snap = stats.snapshot();
        long produced = all.stream().mapToLong(s -> s.produced).sum();
        double seconds = totalNs / 1e9;
        SpecMetrics m = new SpecMetrics(method, k, all.size(), produced, tally.passes, tally.steps, snap.drafts(),
                snap.draftTokens(), snap.acceptedTokens(), snap.acceptanceRate(), snap.meanAcceptanceLength(),
                tally.steps == 0 ? 0 : snap.acceptedTokens() / (double) tally.steps,
                k == 0 ? new double[0] : snap.perPositionAcceptance(), prefillNs / 1e9, tally.proposeNs / 1e9,
                tally.verifyNs / 1e9, tally.targetNs / 1e9, seconds, seconds == 0 ? 0 : produced / seconds, backends,
                launches.byRole(), tally.fusedRounds, tally.siblingsAccepted);
        List<int[]> tokens = all.stream().map(s -> Arrays.copyOf(s.out, s.produced)).toList();
        return new SpecGenerationResult(tokens, all.stream().map(s -> s.stop).toList(), m);
    }
}
