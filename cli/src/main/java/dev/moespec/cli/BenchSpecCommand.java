package dev.moespec.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.moespec.api.config.EngineConfig;
import dev.moespec.api.config.ModelConfig;
import dev.moespec.api.device.DeviceInfo;
import dev.moespec.engine.sampling.SamplingParams;
import dev.moespec.engine.spec.BatchListener;
import dev.moespec.engine.spec.SpecDecodeSession;
import dev.moespec.engine.spec.SpecGenerationResult;
import dev.moespec.engine.spec.SpecMetrics;
import dev.moespec.engine.spec.SpeculativeGenerator;
import dev.moespec.engine.wiring.Engine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.OptionalDouble;
import java.util.OptionalLong;
import java.util.concurrent.Callable;

/**
 * {@code moespec bench spec}: greedy speculative decoding over the benchmark prompts ({@code spec-prompts.jsonl}:
 * 128 raw byte tokens each, cut from the middle of held-out files, used as stored — no BOS, like eval.json's
 * 128-token prompts; {@code --bos} prepends one) for every method × k. Per row: mean accepted tokens per verification step next to
 * eval.json's figure, acceptance rate, the share of prompts whose output equals plain greedy decoding, and
 * tokens/s with and without speculation at batch 1 and at {@code --batch}, and where a batch-1 iteration's time
 * goes (drafting, the target's verification pass, the host loop). Runs on the GPU when one is usable (every role
 * there; one untimed warm-up run per configuration first, so graph captures and kernel loading are not timed), else
 * on the CPU. Registered under the {@code bench} parent command ({@code moespec bench spec}); public so that
 * {@code dev.moespec.cli.bench.BenchCommand} can list it.
 */
@Command(name = "spec", mixinStandardHelpOptions = true,
        description = {"Speculative decoding benchmark: acceptance per method x k (vs eval.json) and tokens/s with and"
                + " without speculation at batch 1 and --batch."})
public final class BenchSpecCommand implements Callable<Integer> {
    static final List<String> METHODS = List.of("draft_model", "eagle", "mtp", "medusa", "ngram");

    @Spec
    CommandSpec spec;

    @Option(names = "--prompts", paramLabel = "FILE", description = "JSONL of {\"ids\": [...]} prompts (default: models/spec-prompts.jsonl).")
    Path prompts;

    @Option(names = "--num-prompts", paramLabel = "N", defaultValue = "8", description = "Prompts to use, from the top (default: ${DEFAULT-VALUE}; 64 = all).")
    int numPrompts;

    @Option(names = "--max-tokens", paramLabel = "N", defaultValue = "128", description = "New tokens per prompt (default: ${DEFAULT-VALUE}, as eval.json).")
    int maxTokens;

    @Option(names = "--methods", paramLabel = "LIST", split = ",", description = "Methods (default: draft_model,eagle,mtp,medusa,ngram).")
    List<String> methods = METHODS;

    @Option(names = "--k", paramLabel = "LIST", split = ",", description = "num_speculative_tokens values (default: 1,2,3,4; medusa stops at 3, ngram runs 4 as eval.json).")
    List<Integer> ks = List.of(1, 2, 3, 4);

    @Option(names = "--sibling-drafts", paramLabel = "LIST", split = ",",
            description = "Also run eagle and mtp with these \"sibling_drafts\" (each at most k): a draft tree, the head's"
                    + " second choice beside the first chain drafts (default: none).")
    List<Integer> siblingDrafts = List.of();

    @Option(names = "--batch", paramLabel = "N", defaultValue = "8", description = "Batch size of the batched run (default: ${DEFAULT-VALUE}).")
    int batch;

    @Option(names = "--speed-prompts", paramLabel = "N", defaultValue = "0",
            description = "Prompts run one at a time for the batch-1 tokens/s (default: 0 = all of --num-prompts; capped"
                    + " at --num-prompts; acceptance varies by prompt, so a handful of prompts overstates or understates"
                    + " the speed-up: the first 16 of spec-prompts.jsonl accept 3%% less than all 64).")
    int speedPrompts;

    @Option(names = "--repeats", paramLabel = "N", defaultValue = "3",
            description = "Times the batch-1 prompts are run per configuration; the median run is reported (default:"
                    + " ${DEFAULT-VALUE}): one run of 16 prompts takes a fraction of a second on the GPU, and runs of one"
                    + " build differ by several percent).")
    int repeats;

    @Option(names = "--jit-warmup", paramLabel = "N", defaultValue = "3000",
            description = "On the GPU, untimed batch-1 target passes over the speed prompts before each method x k is timed"
                    + " (default: ${DEFAULT-VALUE}; with N > 0 at least two runs over the speed prompts too), so that the"
                    + " host loop and the proposer run compiled, as in a server: a GPU pass is short enough that"
                    + " interpreted or C1 code shows in it. 0: no warm-up.")
    int jitWarmup;

    @Option(names = "--moe-backend", paramLabel = "NAME", defaultValue = "auto", description = "The target's MoE backend (default: ${DEFAULT-VALUE}).")
    String moeBackend;

    @Option(names = "--draft-moe-backend", paramLabel = "NAME", description = "\"moe_backend\" of the speculative config (default: inherit).")
    String draftMoeBackend;

    @Option(names = "--kv-cache-memory", paramLabel = "BYTES", defaultValue = "268435456", description = "KV-cache budget per model (default: ${DEFAULT-VALUE}).")
    long kvCacheMemory;

    @Option(names = "--bos", description = "Prepend the BOS token to every prompt (default: the ids as stored).")
    boolean bos;

    @Option(names = "--json", description = "Print the results as JSON instead of a table.")
    boolean json;

    @Option(names = "--fork", description = "Measure plain decoding and each method x k in a JVM of its own, as JMH forks"
            + " (default: all in this JVM). In one JVM the host code ends up compiled for every configuration run before,"
            + " which measured each a few percent slower than a JVM of its own, and not by the same amount for each.")
    boolean fork;

    /** Set by --fork on its children: the one configuration to measure ("plain" or METHOD:K), as JSON. */
    @Option(names = "--only", paramLabel = "CONFIG", hidden = true)
    String only;

    @Option(names = "--device", paramLabel = "auto|cpu|cuda", defaultValue = "auto",
            description = "Where to run (default: ${DEFAULT-VALUE}: the GPU when usable).")
    String device;

    /**
     * One method × k (or the plain baseline, method {@code none}); {@code siblingDrafts} > 0: a draft tree's row.
     * eval.json's figure is the chain's, which a tree's accepted drafts exceed by design.
     */
    record Row(String method, int k, int siblingDrafts, double meanAccepted, Double evalMeanAccepted, Double deltaPercent,
               double acceptanceRate, double meanAcceptanceLength, double greedyMatchFraction, double tokensPerSecondBatch1,
               double tokensPerSecondBatched, double speedupBatch1, double speedupBatched, String targetMoeBackend,
               String draftMoeBackend, StepTime stepBatch1, double prefillMsBatch1, String drafting) {
        /** This row with its speed-ups against plain decoding's tokens/s at batch 1 and batched (0 when not measured). */
        Row against(double plainBatch1, double plainBatched) {
            return new Row(method, k, siblingDrafts, meanAccepted, evalMeanAccepted, deltaPercent, acceptanceRate,
                    meanAcceptanceLength,
                    greedyMatchFraction, tokensPerSecondBatch1, tokensPerSecondBatched,
                    plainBatch1 > 0 ? tokensPerSecondBatch1 / plainBatch1 : 0,
                    plainBatched > 0 ? tokensPerSecondBatched / plainBatched : 0, targetMoeBackend, draftMoeBackend,
                    stepBatch1, prefillMsBatch1, drafting);
        }
    }

    /**
     * Where one batch-1 iteration (one target pass) goes, in ms: the proposer's drafting, the target's verification
     * pass (launch, device, readback), and the rest of the host loop (rejection sampling, bookkeeping). A fused round
     * (drafting {@code fused}: greedy EAGLE / MTP on the GPU) drafts inside its verification pass. {@code tokensPerPass}:
     * the tokens a pass committed at batch 1 (the batch-1 acceptance length).
     */
    record StepTime(double draftMs, double targetMs, double hostMs, double tokensPerPass) {
        double totalMs() {
            return draftMs + targetMs + hostMs;
        }
    }

    /** The whole benchmark, as {@code --json} prints it. */
    record Report(String device, int prompts, int maxTokens, int batch, int speedPrompts, double plainTokensPerSecondBatch1,
                  double plainTokensPerSecondBatched, StepTime plainStepBatch1, double plainPrefillMsBatch1, List<Row> rows) {}

    @Override
    public Integer call() {
        PrintWriter out = spec.commandLine().getOut();
        if (jitWarmup < 0) throw new UserInputException("--jit-warmup must be >= 0, got " + jitWarmup);
        if (numPrompts < 1 || maxTokens < 1 || batch < 1 || speedPrompts < 0 || repeats < 1) {
            throw new UserInputException("--num-prompts, --max-tokens, --batch and --repeats must be >= 1, --speed-prompts >= 0"
                    + " (0: all prompts)");
        }
        for (String m : methods) {
            if (m.isBlank()) throw new UserInputException("--methods has an empty entry; list methods like draft_model,eagle");
        }
        for (int k : ks) if (k < 1) throw new UserInputException("--k values must be >= 1, got " + k);
        for (int s : siblingDrafts) {
            if (s < 1) throw new UserInputException("--sibling-drafts values must be >= 1 (0 is the chain, always run), got " + s);
        }
        Path targetDir = BundledModels.demoTarget();
        Path promptFile = prompts != null ? prompts : targetDir.resolveSibling("spec-prompts.jsonl");
        List<int[]> all = loadPrompts(promptFile, numPrompts, bos);
        JsonNode eval = readEval(targetDir.resolveSibling("eval.json"));
        String where = this.device.strip().toLowerCase(Locale.ROOT);
        if (!where.equals("auto") && !where.equals("cpu") && !where.equals("cuda")) {
            throw new UserInputException("unknown --device '" + this.device + "'; valid values: auto, cpu, cuda");
        }
        List<Configuration> configurations = configurations();
        List<String> ids = configurations.stream().map(Configuration::id).toList();
        if (only != null && !only.equals(PLAIN) && !ids.contains(only)) {
            throw new UserInputException("--only " + only + " is none of this run's configurations: " + PLAIN + ", "
                    + String.join(", ", ids));
        }
        if (fork && only == null) {
            Report report = BenchForks.run(childArguments(), ids, err(), json);
            out.print(json ? SpecReport.json(report) + "\n" : table(report));
            out.flush();
            return 0;
        }
        DeviceInfo device = GenerateCommand.device(where, err());
        SamplingParams greedy = new SamplingParams(0, 0, 1, OptionalLong.empty(), maxTokens, true);

        // a child measuring one method still decodes plainly once, untimed, for the greedy-match reference
        Measured plain = measure(config(targetDir, null, 0, 0), device, all, greedy, null, only == null || only.equals(PLAIN));
        List<Row> rows = new ArrayList<>();
        for (Configuration c : configurations) {
            if (only != null && !only.equals(c.id())) continue;
            String method = c.method();
            int k = c.k();
            Measured m = measure(config(targetDir, method, k, c.siblings()), device, all, greedy, plain.outputs, true);
            OptionalDouble expected = evalMeanAccepted(eval, method, k);
            rows.add(new Row(method, k, c.siblings(), m.meanAccepted, expected.isPresent() ? expected.getAsDouble() : null,
                    expected.isPresent() ? 100 * (m.meanAccepted / expected.getAsDouble() - 1) : null,
                    m.acceptanceRate, m.meanAcceptanceLength, m.greedyMatch, m.tpsBatch1, m.tpsBatched, 0, 0,
                    m.targetBackend, m.draftBackend, m.stepBatch1, m.prefillMsBatch1, m.drafting)
                    .against(plain.tpsBatch1, plain.tpsBatched));
            if (!json) {
                err().printf(Locale.ROOT, "bench spec: %s done%n", c.id());
                err().flush();
            }
        }
        Report report = new Report(device.isCuda() ? device.name() : "cpu", all.size(), maxTokens, batch,
                speedPromptCount(all.size()), plain.tpsBatch1, plain.tpsBatched, plain.stepBatch1, plain.prefillMsBatch1,
                rows);
        out.print(json ? SpecReport.json(report) + "\n" : table(report));
        out.flush();
        return 0;
    }

    /** --only's name for plain decoding. */
    static final String PLAIN = "plain";

    /** One method × k (with sibling drafts) of a run; {@link #id} is its --only name. */
    private record Configuration(String method, int k, int siblings) {
        String id() {
            return method + ":" + k + (siblings == 0 ? "" : ":" + siblings);
        }
    }

    /** The method × k configurations of this run, in table order. */
    private List<Configuration> configurations() {
        List<Configuration> out = new ArrayList<>();
        for (String method : methods) {
            for (int k : ks) {
                if (method.equals("medusa") && k > 3) continue;
                if (method.equals("ngram") && ks.contains(4) && k != 4) continue;  // eval.json has ngram at k=4 only
                out.add(new Configuration(method, k, 0));
                if (!method.equals("eagle") && !method.equals("mtp")) continue;
                for (int s : siblingDrafts) if (s <= k) out.add(new Configuration(method, k, s));
            }
        }
        return out;
    }

    /** This run's options for a --fork child (which adds --only and --json). */
    private List<String> childArguments() {
        List<String> a = new ArrayList<>(List.of("--num-prompts", String.valueOf(numPrompts), "--max-tokens",
                String.valueOf(maxTokens), "--batch", String.valueOf(batch), "--speed-prompts", String.valueOf(speedPrompts),
                "--repeats", String.valueOf(repeats), "--jit-warmup", String.valueOf(jitWarmup), "--moe-backend", moeBackend,
                "--kv-cache-memory", String.valueOf(kvCacheMemory), "--device", device));
        if (draftMoeBackend != null) a.addAll(List.of("--draft-moe-backend", draftMoeBackend));
        // the child finds its --only configuration among its own
        a.addAll(List.of("--methods", String.join(",", methods), "--k", join(ks)));
        if (!siblingDrafts.isEmpty()) a.addAll(List.of("--sibling-drafts", join(siblingDrafts)));
        if (prompts != null) a.addAll(List.of("--prompts", prompts.toString()));
        if (bos) a.add("--bos");
        return a;
    }

    private static String join(List<Integer> values) {
        return String.join(",", values.stream().map(String::valueOf).toList());
    }

    private PrintWriter err() {
        return spec.commandLine().getErr();
    }

    private EngineConfig config(Path targetDir, String method, int k, int siblings) {
        String specJson = null;
        if (method != null) {
            String model = switch (method) {
                case "draft_model" -> ",\"model\":\"demo-draft\"";
                case "eagle" -> ",\"model\":\"demo-eagle\"";
                case "medusa" -> ",\"model\":\"demo-medusa\"";
                // eval.json's prompt lookup: the longest suffix n-gram, n = 5..2
                case "ngram" -> ",\"prompt_lookup_min\":2,\"prompt_lookup_max\":5";
                default -> "";
            };
            String backend = draftMoeBackend == null ? "" : ",\"moe_backend\":\"" + draftMoeBackend + "\"";
            String tree = siblings == 0 ? "" : ",\"sibling_drafts\":" + siblings;
            specJson = "{\"method\":\"" + method + "\",\"num_speculative_tokens\":" + k + model + backend + tree + "}";
        }
        return EngineConfig.builder(ModelConfig.load(targetDir)).moeBackend(moeBackend).speculativeConfigJson(specJson).build();
    }

    /** What one configuration measured. */
    private record Measured(double meanAccepted, double acceptanceRate, double meanAcceptanceLength, double greedyMatch,
                            double tpsBatch1, double tpsBatched, List<int[]> outputs, String targetBackend,
                            String draftBackend, StepTime stepBatch1, double prefillMsBatch1, String drafting) {}

    private Measured measure(EngineConfig config, DeviceInfo device, List<int[]> all, SamplingParams greedy,
                             List<int[]> reference, boolean timeBatch1) {
        try (Engine engine = Engine.build(config, device, Thread.currentThread().getContextClassLoader());
             SpecDecodeSession session = SpecDecodeSession.open(engine, kvCacheMemory)) {
            var generator = session.generator(256);
            if (device.isCuda() && timeBatch1) {
                // untimed warm-up at both batch sizes: kernel loading, MoE weight upload and graph captures
                generator.generate(all.subList(0, Math.min(all.size(), batch)), greedy, BatchListener.NONE);
                generator.generate(List.of(all.getFirst()), greedy, BatchListener.NONE);
                // then untimed batch-1 runs until --jit-warmup target passes ran and, with any warm-up, every speed
                // prompt twice: a GPU step is short enough that interpreted or C1-compiled host code shows in it (one
                // pass over 16 prompts, ~600 passes, left the proposer of a method's first k half compiled: eagle k=1
                // drafted slower than eagle k=2); counting passes alone gave plain decoding, one pass a token, 23
                // prompts and so a colder prefill than the methods (plain reached its steady speed after ~128 prompts);
                // before the batched run too, which --fork's children would otherwise time half compiled
                int prompts = speedPromptCount(all.size());
                for (long passes = 0, i = 0; jitWarmup > 0 && (passes < jitWarmup || i < 2L * prompts); i++) {
                    passes += generator.generate(List.of(all.get((int) (i % prompts))), greedy,
                            BatchListener.NONE).metrics().targetPasses();
                }
            }
            List<int[]> outputs = new ArrayList<>();
            List<SpecMetrics> batches = new ArrayList<>();
            for (int from = 0; from < all.size(); from += batch) {
                SpecGenerationResult r = generator.generate(all.subList(from, Math.min(all.size(), from + batch)), greedy,
                        BatchListener.NONE);
                batches.add(r.metrics());
                outputs.addAll(r.tokens());
            }
            SpecMetrics batched = SpecMetrics.sum(batches);
            // batch 1: --repeats runs over the speed prompts, the median one (by tokens/s) reported
            List<BatchOne> runs = new ArrayList<>();
            for (int rep = 0; timeBatch1 && rep < repeats; rep++) runs.add(batchOne(generator, all, greedy));
            runs.sort(Comparator.comparingDouble(BatchOne::tokensPerSecond));
            BatchOne one = runs.isEmpty() ? new BatchOne(0, new StepTime(0, 0, 0, 0), 0, "-") : runs.get(runs.size() / 2);
            int match = 0;
            if (reference != null) {
                for (int i = 0; i < outputs.size(); i++) if (Arrays.equals(outputs.get(i), reference.get(i))) match++;
            }
            return new Measured(batched.meanAcceptedPerStep(), batched.acceptanceRate(), batched.meanAcceptanceLength(),
                    reference == null ? 1 : match / (double) outputs.size(), one.tokensPerSecond(), batched.tokensPerSecond(),
                    outputs, session.backends().get("target"),
                    session.backends().getOrDefault("draft", "-"), one.step(), one.prefillMs(), one.drafting());
        }
    }

    /** The prompts run one at a time: --speed-prompts of the {@code available}, all of them for 0. */
    private int speedPromptCount(int available) {
        return speedPrompts == 0 ? available : Math.min(speedPrompts, available);
    }

    /**
     * One run of the speed prompts at batch 1: tokens/s, where an iteration went, a prompt's prefill (its pass and first
     * token, in ms), how it drafted.
     */
    private record BatchOne(double tokensPerSecond, StepTime step, double prefillMs, String drafting) {}

    private BatchOne batchOne(SpeculativeGenerator generator, List<int[]> all, SamplingParams greedy) {
        int n = speedPromptCount(all.size());
        List<SpecMetrics> prompts = new ArrayList<>(n);
        for (int i = 0; i < n; i++) prompts.add(generator.generate(List.of(all.get(i)), greedy, BatchListener.NONE).metrics());
        SpecMetrics m = SpecMetrics.sum(prompts);
        long passes = m.targetPasses();
        double perPass = passes == 0 ? 0 : 1e3 / passes;
        // the first token of a prompt comes from its prefill pass
        double perPassTokens = passes == 0 ? 0 : (m.newTokens() - n) / (double) passes;
        return new BatchOne(m.tokensPerSecond(), new StepTime(m.proposeSeconds() * perPass, m.targetPassSeconds() * perPass,
                (m.verifySeconds() - m.targetPassSeconds()) * perPass, perPassTokens), 1e3 * m.prefillSeconds() / n,
                m.fusedRounds() == 0 ? "proposer" : m.fusedRounds() == passes ? "fused" : "mixed");
    }

    private String table(Report r) {
        StringBuilder s = new StringBuilder();
        s.append(String.format(Locale.ROOT, "moespec bench spec on %s: %d prompts x %d new tokens, greedy; tokens/s at batch 1"
                + " (%d prompts one at a time) and batch %d%n", r.device(), r.prompts(), r.maxTokens(), r.speedPrompts(), r.batch()));
        s.append(String.format(Locale.ROOT, "plain decoding: %.1f tokens/s at batch 1, %.1f tokens/s at batch %d; batch-1"
                        + " step %.3f ms (target pass %.3f, host %.3f), prefill %.3f ms a prompt%n%n",
                r.plainTokensPerSecondBatch1(),
                r.plainTokensPerSecondBatched(), r.batch(), r.plainStepBatch1().totalMs(), r.plainStepBatch1().targetMs(),
                r.plainStepBatch1().hostMs(), r.plainPrefillMsBatch1()));
        s.append(String.format(Locale.ROOT, "%-12s %2s  %9s %9s %7s  %6s %6s  %6s  %9s %7s  %9s %7s  %23s  %10s  %6s  %-8s  %s%n",
                "method",
                "k", "accepted", "eval", "delta", "rate", "len", "greedy", "tok/s b1", "x plain", "tok/s b" + r.batch(),
                "x plain", "b1 ms: draft/verify/host", "prefill ms", "len b1", "drafting", "moe target / draft"));
        for (Row row : r.rows()) {
            s.append(String.format(Locale.ROOT,
                    "%-12s %2d  %9.3f %9s %7s  %6.3f %6.3f  %6.2f  %9.1f %7.2f  %9.1f %7.2f  %23s  %10.3f  %6.3f  %-8s  %s / %s%n",
                    row.siblingDrafts() == 0 ? row.method() : row.method() + "+" + row.siblingDrafts() + "sib", row.k(),
                    row.meanAccepted(),
                    row.evalMeanAccepted() == null ? "-" : String.format(Locale.ROOT, "%.3f", row.evalMeanAccepted()),
                    row.deltaPercent() == null ? "-" : String.format(Locale.ROOT, "%+.1f%%", row.deltaPercent()),
                    row.acceptanceRate(), row.meanAcceptanceLength(), row.greedyMatchFraction(), row.tokensPerSecondBatch1(),
                    row.speedupBatch1(), row.tokensPerSecondBatched(), row.speedupBatched(),
                    String.format(Locale.ROOT, "%.3f/%.3f/%.3f", row.stepBatch1().draftMs(), row.stepBatch1().targetMs(),
                            row.stepBatch1().hostMs()), row.prefillMsBatch1(), row.stepBatch1().tokensPerPass(),
                    row.drafting(), row.targetMoeBackend(), row.draftMoeBackend()));
        }
        s.append("accepted = mean accepted draft tokens per verification step (eval.json's mean_accepted); len = mean"
                + " acceptance length (tokens per target pass); greedy = share of prompts equal to plain greedy decoding;"
                + " b1 ms = one batch-1 iteration: drafting, the target's verification pass, the rest of the host loop;"
                + " prefill ms = a batch-1 prompt's prefill pass and first token (fused: with the head's catch-up over the"
                + " prompt queued behind it, so its draft column is 0); len b1 = tokens per target pass at batch 1;"
                + " drafting = proposer (a call per round) or fused (greedy EAGLE / MTP drafted on the GPU right behind"
                + " verification, inside the verify column; -Dmoespec.spec.fused=false turns it off)\n");
        return s.toString();
    }

    static List<int[]> loadPrompts(Path file, int count, boolean bos) {
        ObjectMapper mapper = new ObjectMapper();
        List<int[]> out = new ArrayList<>();
        List<String> lines;
        try {
            lines = Files.readAllLines(file);
        } catch (IOException e) {
            throw new UserInputException("cannot read --prompts " + file + ": " + e.getMessage()
                    + "; pass a JSONL file of {\"ids\": [...]} objects");
        }
        for (int i = 0; i < lines.size() && out.size() < count; i++) {
            if (lines.get(i).isBlank()) continue;
            try {
                JsonNode ids = mapper.readTree(lines.get(i)).get("ids");
                if (ids == null || !ids.isArray() || ids.isEmpty()) throw new IOException("no non-empty \"ids\" array");
                int offset = bos ? 1 : 0;
                int[] p = new int[ids.size() + offset];
                if (bos) p[0] = 256;  // the demo family's BOS / document separator
                for (int j = 0; j < ids.size(); j++) p[j + offset] = ids.get(j).asInt();
                out.add(p);
            } catch (IOException e) {
                throw new UserInputException(file + " line " + (i + 1) + ": " + e.getMessage()
                        + "; each line must be a JSON object with an \"ids\" array of token ids");
            }
        }
        if (out.isEmpty()) throw new UserInputException(file + " has no prompts");
        return out;
    }

    private static JsonNode readEval(Path file) {
        try {
            return Files.isRegularFile(file) ? new ObjectMapper().readTree(Files.readString(file)) : null;
        } catch (IOException e) {
            return null;  // the comparison column is informative; a missing or broken eval.json leaves it empty
        }
    }

    private static OptionalDouble evalMeanAccepted(JsonNode eval, String method, int k) {
        if (eval == null) return OptionalDouble.empty();
        for (JsonNode r : eval.path("spec_decode").path("results")) {
            if (r.path("method").asText().equals(method) && r.path("k").asInt() == k) {
                return OptionalDouble.of(r.path("mean_accepted").asDouble());
            }
        }
        return OptionalDouble.empty();
    }
}
