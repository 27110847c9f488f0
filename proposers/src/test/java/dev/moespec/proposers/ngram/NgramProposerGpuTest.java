package dev.moespec.proposers.ngram;

import dev.moespec.api.device.DeviceInfo;
import dev.moespec.api.proposer.Proposal;
import dev.moespec.api.proposer.ProposalRequest;
import dev.moespec.api.proposer.ProposerContext;
import dev.moespec.api.proposer.ProposerSettings;
import dev.moespec.cuda.Cuda;
import dev.moespec.cuda.CudaContext;
import dev.moespec.proposers.cuda.GpuNgramMatcher;
import dev.moespec.proposers.cuda.NgramLookup;
import dev.moespec.proposers.cuda.ProposerGpu;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The GPU n-gram kernel against the CPU proposer: the 48 bound settings x 300 seeded random histories of
 * {@link SuffixMatcherPropertyTest} (the CPU is pinned to the brute force there), each batch in one launch, plus long
 * repetitive histories and the proposer's own GPU path through a context that names the device.
 */
@Tag("gpu")
class NgramProposerGpuTest {

    private record DeviceContext(ProposerSettings settings, DeviceInfo device) implements ProposerContext {}

    @BeforeEach
    void gpu() {
        ProposerGpu.assumeGpuAndKernels();
    }

    @Test
    void everyOracleCaseMatchesTheCpuProposerInBatchedLaunches() {
        int cases = 0, histories = 0, nonEmpty = 0;
        try (CudaContext ctx = CudaContext.open(0); GpuNgramMatcher gpu = new GpuNgramMatcher(ctx)) {
            for (int min = 1; min <= 4; min++) {
                for (int extra : new int[]{0, 1, 3, 7}) {
                    for (int k : new int[]{1, 2, 5}) {
                        int max = min + extra;
                        // the same draws, in the same order, as SuffixMatcherPropertyTest
                        Random random = new Random(31L * (31L * min + max) + k);
                        Map<Integer, List<int[]>> byMaxModelLen = new TreeMap<>();
                        Map<Integer, Integer> alphabetOf = new TreeMap<>();
                        for (int trial = 0; trial < 300; trial++) {
                            int alphabet = 2 + random.nextInt(3);
                            int[] history = random.ints(random.nextInt(40), 0, alphabet).toArray();
                            int maxModelLen = Math.max(1, history.length - 2 + random.nextInt(k + 4));
                            byMaxModelLen.computeIfAbsent(maxModelLen, m -> new ArrayList<>()).add(history);
                            alphabetOf.merge(maxModelLen, alphabet, Math::max);
                        }
                        for (var group : byMaxModelLen.entrySet()) {
                            int maxModelLen = group.getKey();
                            List<int[]> batch = group.getValue();
                            NgramProposer cpu = new NgramProposer(new ProposerSettings(k, min, max, maxModelLen, 4));
                            List<int[]> got = gpu.propose(batch, new NgramLookup(k, min, max, maxModelLen));
                            assertEquals(batch.size(), got.size());
                            for (int i = 0; i < batch.size(); i++) {
                                int[] want = cpu.proposeOne(batch.get(i));
                                assertArrayEquals(want, got.get(i), "min=" + min + " max=" + max + " k=" + k
                                        + " max_model_len=" + maxModelLen + " history " + Arrays.toString(batch.get(i)));
                                if (want.length > 0) nonEmpty++;
                                histories++;
                            }
                        }
                        cases++;
                    }
                }
            }
        }
        assertEquals(48, cases);
        assertEquals(48 * 300, histories);
        // max_model_len often leaves no budget in these cases, so about a third propose something
        assertTrue(nonEmpty > histories / 5, "too few oracle cases propose anything to test the match: " + nonEmpty);
        System.out.printf("ngram GPU vs CPU: %d cases, %d histories, %d non-empty proposals, all equal%n",
                cases, histories, nonEmpty);
    }

    @Test
    void longRepetitiveHistoriesInOneBatchMatchTheCpu() {
        Random random = new Random(2026);
        List<int[]> batch = new ArrayList<>();
        for (int b = 0; b < 64; b++) {
            int length = 1 + random.nextInt(b % 8 == 0 ? 20_000 : 3_000);
            int[] motif = random.ints(1 + random.nextInt(30), 0, 50).toArray();
            int[] h = new int[length];
            for (int i = 0; i < length; i++) {
                // a repeated motif with sparse mutations: long matches, many candidate occurrences
                h[i] = random.nextInt(40) == 0 ? random.nextInt(50) : motif[i % motif.length];
            }
            batch.add(h);
        }
        NgramLookup lookup = new NgramLookup(4, 2, 8, 32_768);
        NgramProposer cpu = new NgramProposer(new ProposerSettings(4, 2, 8, 32_768, 50));
        try (CudaContext ctx = CudaContext.open(0); GpuNgramMatcher gpu = new GpuNgramMatcher(ctx)) {
            for (int step = 0; step < 3; step++) {  // the reused buffers give the same answers step after step
                List<int[]> got = gpu.propose(batch, lookup);
                for (int i = 0; i < batch.size(); i++) {
                    assertArrayEquals(cpu.proposeOne(batch.get(i)), got.get(i), "sequence " + i + " step " + step);
                }
            }
            assertEquals(List.of(), gpu.propose(List.of(), lookup));
        }
    }

    @Test
    void theProposerMatchesOnTheGpuWhenItsContextNamesACudaDevice() {
        ProposerSettings settings = new ProposerSettings(3, 1, 4, 200, 10);
        Random random = new Random(5);
        List<int[]> histories = new ArrayList<>();
        for (int b = 0; b < 32; b++) histories.add(random.ints(random.nextInt(120), 0, 4).toArray());
        ProposalRequest request = new ProposalRequest(histories);
        Proposal want = new NgramProposer(settings).propose(request);
        try (NgramProposer onGpu = new NgramProposer(new DeviceContext(settings, Cuda.detectDevice()))) {
            assertTrue(onGpu.onGpu());
            Proposal got = onGpu.propose(request);
            assertEquals(want.batchSize(), got.batchSize());
            for (int b = 0; b < want.batchSize(); b++) assertArrayEquals(want.tokens(b), got.tokens(b), "sequence " + b);
            assertTrue(got.draftProbabilities().isEmpty());
            got.requireValidFor("ngram", request, settings);
        }
    }
}
