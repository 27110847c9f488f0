package dev.moespec.engine.spec;

import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * The numbers of one speculative (or plain, {@code method = "none"}) generation run, JSON-friendly (Jackson writes
 * records as objects). Acceptance follows vLLM: rate = accepted / drafted; mean acceptance length = 1 + accepted /
 * drafts (tokens per target pass, bonus included). {@code meanAcceptedPerStep} = accepted / drafts, eval.json's
 * {@code mean_accepted}.
 *
 * @param method                the proposer's method, or {@code none}
 * @param k                     num_speculative_tokens (0 without speculation)
 * @param sequences             batch size
 * @param newTokens             tokens generated over all sequences
 * @param targetPasses          target forward passes after prefill (verification steps, batched)
 * @param verifySteps           per-sequence verification steps (a batched pass counts once per sequence in it)
 * @param drafts                per-sequence verification steps that had a proposal
 * @param draftTokens           tokens proposed
 * @param acceptedTokens        proposed tokens accepted
 * @param acceptanceRate        accepted / proposed
 * @param meanAcceptanceLength  1 + accepted / drafts
 * @param meanAcceptedPerStep   accepted / verifySteps (eval.json's {@code mean_accepted})
 * @param perPositionAcceptance share of drafts whose first i+1 tokens were accepted
 * @param prefillSeconds        prompt prefill and first token
 * @param proposeSeconds        time in the proposer
 * @param verifySeconds         target verification passes and rejection sampling
 * @param targetPassSeconds     of verifySeconds, the target's forward passes (launch, device, readback)
 * @param totalSeconds          wall time, prefill included
 * @param tokensPerSecond       newTokens / totalSeconds
 * @param moeBackends           which MoE backend each role ran ({@code target}, {@code draft})
 * @param launches              kernel launches of the run per role ({@code target}, {@code draft}) and kernel image
 *                              (the jar's artifactId, e.g. {@code moespec-backend-triton}), counted by
 *                              {@code LaunchLedger}; empty on the CPU
 * @param fusedRounds           target passes whose next drafts were computed on the device right behind them
 *                              ({@code FusedDrafting}: greedy EAGLE / MTP on the GPU); their drafting time is in
 *                              {@code verifySeconds} and {@code targetPassSeconds}, not in {@code proposeSeconds}
 * @param siblingsAccepted      verification steps whose last accepted draft was a sibling (a draft tree's second
 *                              choice at its depth, {@code FusedDrafting#siblings}); 0 for chains
 */
public record SpecMetrics(String method, int k, int sequences, long newTokens, long targetPasses, long verifySteps, long drafts,
                          long draftTokens, long acceptedTokens, double acceptanceRate, double meanAcceptanceLength,
                          double meanAcceptedPerStep, double[] perPositionAcceptance, double prefillSeconds,
                          double proposeSeconds, double verifySeconds, double targetPassSeconds, double totalSeconds,
                          double tokensPerSecond, Map<String, String> moeBackends, Map<String, Map<String, Long>> launches,
                          long fusedRounds, long siblingsAccepted) {
    public SpecMetrics {
        perPositionAcceptance = perPositionAcceptance.clone();
        moeBackends = Map.copyOf(moeBackends);
        Map<String, Map<String, Long>> sorted = new TreeMap<>();
        launches.forEach((role, images) -> sorted.put(role, java.util.Collections.unmodifiableMap(new TreeMap<>(images))));
        launches = java.util.Collections.unmodifiableMap(sorted);
    }

    /**
     * Several runs of one method and k as one (a benchmark's batches or repeats): counts, times and launches added,
     * backends as the first run's, and every rate taken again from the totals (per-position acceptance weighted by each
     * run's drafts), so the result is what one run over all their sequences would report.
     *
     * @throws IllegalArgumentException for no runs
     */
    public static SpecMetrics sum(List<SpecMetrics> runs) {
        if (runs.isEmpty()) throw new IllegalArgumentException("no runs to sum");
        SpecMetrics first = runs.getFirst();
        int sequences = 0;
        long tokens = 0, passes = 0, steps = 0, drafts = 0, draftTokens = 0, accepted = 0, fused = 0, siblings = 0;
        double prefill = 0, propose = 0, verify = 0, targetPass = 0, total = 0;
        double[] perPosition = new double[first.perPositionAcceptance.length];
        Map<String, Map<String, Long>> launches = new TreeMap<>();
        for (SpecMetrics m : runs) {
            sequences += m.sequences;
            tokens += m.newTokens;
            passes += m.targetPasses;
            steps += m.verifySteps;
            drafts += m.drafts;
            draftTokens += m.draftTokens;
            accepted += m.acceptedTokens;
            fused += m.fusedRounds;
            siblings += m.siblingsAccepted;
            prefill += m.prefillSeconds;
            propose += m.proposeSeconds;
            verify += m.verifySeconds;
            targetPass += m.targetPassSeconds;
            total += m.totalSeconds;
            for (int i = 0; i < Math.min(perPosition.length, m.perPositionAcceptance.length); i++) {
                perPosition[i] += m.perPositionAcceptance[i] * m.drafts;
            }
            m.launches.forEach((role, images) -> images.forEach((image, n) ->
                    launches.computeIfAbsent(role, r -> new TreeMap<>()).merge(image, n, Long::sum)));
        }
        for (int i = 0; i < perPosition.length; i++) perPosition[i] = drafts == 0 ? 0 : perPosition[i] / drafts;
        return new SpecMetrics(first.method, first.k, sequences, tokens, passes, steps, drafts, draftTokens, accepted,
                draftTokens == 0 ? 0 : accepted / (double) draftTokens, drafts == 0 ? 1 : 1 + accepted / (double) drafts,
                steps == 0 ? 0 : accepted / (double) steps, perPosition, prefill, propose, verify, targetPass, total,
                total == 0 ? 0 : tokens / total, first.moeBackends, launches, fused, siblings);
    }

    /** Launches of kernel image {@code image} made by {@code role} in this run. */
    public long launches(String role, String image) {
        return launches.getOrDefault(role, Map.of()).getOrDefault(image, 0L);
    }

    @Override
    public double[] perPositionAcceptance() {
        return perPositionAcceptance.clone();
    }
}
