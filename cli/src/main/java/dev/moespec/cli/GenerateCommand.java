package dev.moespec.cli;

import dev.moespec.api.config.EngineConfig;
import dev.moespec.api.config.ModelConfig;
import dev.moespec.api.device.DeviceInfo;
import dev.moespec.cuda.LaunchCounts;
import dev.moespec.cuda.LaunchLedger;
import dev.moespec.engine.cuda.CudaRunners;
import dev.moespec.engine.device.DeviceSelection;
import dev.moespec.engine.generate.GenerationResult;
import dev.moespec.engine.generate.Generator;
import dev.moespec.engine.model.ModelRunner;
import dev.moespec.engine.sampling.SamplingParams;
import dev.moespec.engine.spec.SpecDecodeSession;
import dev.moespec.engine.spec.SpecGenerationResult;
import dev.moespec.engine.spec.SpecMetrics;
import dev.moespec.engine.tokenizer.Utf8StreamDecoder;
import dev.moespec.engine.tokenizer.ByteLevelBpeTokenizer;
import dev.moespec.engine.wiring.Engine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.concurrent.Callable;

/**
 * {@code moespec generate}: loads a checkpoint, runs it on the GPU ({@code --device auto} when one is usable, or
 * {@code cuda}) or the CPU with the target's MoE binding resolved for that device, streams the continuation of a
 * prompt and ends with a summary (tokens/s, time to first token, MoE backend per role). With
 * {@code --speculative-config} it runs speculative decoding with the method's proposer (its drafter on the draft
 * role's MoE binding) and adds the acceptance metrics; {@code --metrics-json} writes them as JSON. Speculative
 * decoding runs where plain decoding does: on the GPU every role (target and drafter) runs there, and the summary
 * prints, per role, its MoE backend and the kernel launches per kernel image it made (counted, not configured).
 */
@Command(name = "generate", mixinStandardHelpOptions = true,
        description = {"Generate a continuation of a prompt, streaming tokens as they come.",
                "Runs on the GPU when one is usable (CUDA forward pass, decode steps as CUDA graphs), else on the CPU.",
                "With --speculative-config, speculative decoding (draft_model, eagle, mtp, medusa, ngram or a plugin"
                        + " method), every role on the same device; the summary counts each role's kernel launches."})
final class GenerateCommand implements Callable<Integer> {
    static final String DEFAULT_PROMPT = "def fibonacci(n):\n";

    @Spec
    CommandSpec spec;

    @Option(names = "--model", paramLabel = "DIR",
            description = "Hugging Face checkpoint directory (default: the bundled demo target, models/demo-target).")
    Path model;

    @Option(names = "--prompt", paramLabel = "TEXT", description = "The prompt (default: a Python function header).")
    String prompt = DEFAULT_PROMPT;

    @Option(names = "--max-tokens", paramLabel = "N", defaultValue = "64", description = "New tokens at most (default: ${DEFAULT-VALUE}).")
    int maxTokens;

    @Option(names = "--temperature", paramLabel = "T", defaultValue = "0",
            description = "Sampling temperature; 0 = greedy (default: ${DEFAULT-VALUE}).")
    double temperature;

    @Option(names = "--top-p", paramLabel = "P", defaultValue = "1", description = "Nucleus sampling mass in (0, 1] (default: ${DEFAULT-VALUE}).")
    double topP;

    @Option(names = "--top-k", paramLabel = "K", defaultValue = "0", description = "Keep the K most likely tokens; 0 or -1 = all (default: ${DEFAULT-VALUE}).")
    int topK;

    @Option(names = "--seed", paramLabel = "N", description = "Random seed for sampling (default: random).")
    Long seed;

    @Option(names = "--ignore-eos", description = "Keep generating past the end-of-sequence token.")
    boolean ignoreEos;

    @Option(names = "--device", paramLabel = "auto|cpu|cuda", defaultValue = "auto",
            description = "Where to run (default: ${DEFAULT-VALUE}).")
    String device;

    @Option(names = "--moe-backend", paramLabel = "NAME", defaultValue = "auto",
            description = "The target's MoE backend: auto or a registered name (default: ${DEFAULT-VALUE}).")
    String moeBackend;

    @Option(names = "--speculative-config", paramLabel = "JSON",
            description = "vLLM-style JSON, e.g. '{\"method\":\"mtp\",\"num_speculative_tokens\":2,\"moe_backend\":\"triton\"}'.")
    String speculativeConfig;

    @Option(names = "--metrics-json", paramLabel = "FILE",
            description = "Also write the run's metrics (tokens/s, acceptance, per-position acceptance, backends) as JSON.")
    Path metricsJson;

    @Option(names = "--batch-invariant",
            description = "GPU: run every GEMM and MoE call on fixed 64-row slices, so a row's logits do not depend on how many"
                    + " rows share its step (greedy speculative output then equals plain greedy output bit for bit; like vLLM's"
                    + " VLLM_BATCH_INVARIANT). Also MOESPEC_BATCH_INVARIANT=1.")
    boolean batchInvariant;

    @Option(names = "--kv-cache-memory", paramLabel = "BYTES", defaultValue = "268435456",
            description = "KV-cache memory budget in bytes (default: ${DEFAULT-VALUE} = 256 MiB).")
    long kvCacheMemory;

    @Override
    public Integer call() {
        PrintWriter out = spec.commandLine().getOut(), err = spec.commandLine().getErr();
        String where = device.strip().toLowerCase(Locale.ROOT);
        if (!where.equals("auto") && !where.equals("cpu") && !where.equals("cuda")) {
            throw new UserInputException("unknown --device '" + device + "'; valid values: auto, cpu, cuda");
        }
        if (batchInvariant) System.setProperty(CudaRunners.BATCH_INVARIANT_PROPERTY, "true");
        SamplingParams params = new SamplingParams(temperature, topK, topP,
                seed == null ? OptionalLong.empty() : OptionalLong.of(seed), maxTokens, ignoreEos);
        Path dir = model != null ? model : BundledModels.demoTarget();
        EngineConfig config = EngineConfig.builder(ModelConfig.load(dir)).moeBackend(moeBackend)
                .speculativeConfigJson(speculativeConfig).build();
        DeviceInfo run = device(where, err);
        if (config.speculative().isPresent()) {
            return speculative(config, run, dir, params, out);
        }
        try (Engine engine = Engine.build(config, run, Thread.currentThread().getContextClassLoader());
             ModelRunner runner = run.isCuda() ? CudaRunners.open(engine.target(), run.ordinal(), kvCacheMemory)
                     : engine.target().openRunner(kvCacheMemory)) {
            var tokenizer = ByteLevelBpeTokenizer.load(dir);
            Generator generator = new Generator(runner, tokenizer);
            out.print(prompt);
            out.flush();
            LaunchCounts before = LaunchLedger.snapshot();
            GenerationResult r = generator.generate(generator.promptIds(prompt), params, (id, text) -> {
                out.print(text);
                out.flush();
            });
            out.println();
            out.printf(Locale.ROOT, "--- %d prompt + %d new tokens (%s) on %s | %.1f tokens/s (decode %.1f tokens/s) | "
                            + "time to first token %.1f ms | MoE backend: target=%s%n",
                    r.promptTokens(), r.tokens().length, r.stop().name().toLowerCase(Locale.ROOT), runner.device(),
                    r.tokensPerSecond(), r.decodeTokensPerSecond(), r.ttftNanos() / 1e6, r.moeBackend());
            var launches = LaunchLedger.snapshot().since(before).byRole();
            out.print(SpecReport.launches(launches));
            out.flush();
            if (metricsJson != null) {
                long n = r.tokens().length;
                double decodeSeconds = (r.totalNanos() - r.ttftNanos()) / 1e9;
                writeMetrics(new SpecMetrics("none", 0, 1, n, Math.max(0, n - 1), Math.max(0, n - 1), 0, 0, 0, 0, 1, 0,
                        new double[0], r.ttftNanos() / 1e9, 0, decodeSeconds, decodeSeconds, r.totalNanos() / 1e9,
                        r.tokensPerSecond(), java.util.Map.of("target", r.moeBackend()), launches, 0, 0));
            }
        }
        return 0;
    }

    /** Speculative decoding of the prompt: streams, then prints the summary, the acceptance and the bindings. */
    private int speculative(EngineConfig config, DeviceInfo run, Path dir, SamplingParams params, PrintWriter out) {
        try (Engine engine = Engine.build(config, run, Thread.currentThread().getContextClassLoader());
             SpecDecodeSession session = SpecDecodeSession.open(engine, kvCacheMemory)) {
            var tokenizer = ByteLevelBpeTokenizer.load(dir);
            Utf8StreamDecoder decoder = new Utf8StreamDecoder(tokenizer);
            int[] ids = new Generator(session.target(), tokenizer).promptIds(prompt);
            out.print(prompt);
            out.flush();
            SpecGenerationResult r = session.generator(tokenizer.eosId()).generate(List.of(ids), params, (seq, id) -> {
                out.print(decoder.accept(id));
                out.flush();
            });
            out.print(decoder.flush());
            out.println();
            SpecMetrics m = r.metrics();
            out.printf(Locale.ROOT, "--- %d prompt + %d new tokens (%s) on %s | %.1f tokens/s | %d target passes"
                            + " | speculative: %s k=%d%n", ids.length, m.newTokens(),
                    r.stops().getFirst().name().toLowerCase(Locale.ROOT), session.target().device(), m.tokensPerSecond(),
                    m.targetPasses(), m.method(), m.k());
            out.print(SpecReport.acceptance(m));
            out.printf("    MoE backend: target=%s draft=%s%n", m.moeBackends().get("target"), m.moeBackends().get("draft"));
            out.print(SpecReport.launches(m.launches()));
            out.printf(Locale.ROOT, "    time: prefill %.1f ms, propose %.1f ms, verify %.1f ms (target passes %.1f ms)%s%n",
                    m.prefillSeconds() * 1e3, m.proposeSeconds() * 1e3, m.verifySeconds() * 1e3, m.targetPassSeconds() * 1e3,
                    m.fusedRounds() == 0 ? "" : "; " + m.fusedRounds() + " of " + m.targetPasses()
                            + " passes drafted on the GPU right behind verification (fused)"
                            + (m.siblingsAccepted() == 0 ? "" : ", " + m.siblingsAccepted() + " accepted a sibling draft"));
            out.flush();
            if (metricsJson != null) writeMetrics(m);
        }
        return 0;
    }

    private void writeMetrics(SpecMetrics m) {
        try {
            java.nio.file.Files.writeString(metricsJson, SpecReport.json(m) + "\n");
        } catch (java.io.IOException e) {
            throw new UserInputException("cannot write --metrics-json " + metricsJson + ": " + e.getMessage()
                    + "; pass a writable file path");
        }
    }

    /**
     * The device the engine is built for, so the MoE binding is resolved for the device it really runs on:
     * {@code cpu}; {@code cuda} (refused with the reason when the CUDA forward pass cannot run here); {@code auto} =
     * the GPU when the CUDA runner can use it, else the CPU, saying why when a GPU was found but cannot be used.
     */
    static DeviceInfo device(String where, PrintWriter err) {
        if (where.equals("cpu")) return DeviceInfo.cpu("--device cpu");
        DeviceInfo detected = DeviceSelection.detect();
        Optional<String> why = CudaRunners.unavailableReason();
        if (where.equals("cuda")) {
            if (why.isPresent()) {
                throw new UserInputException("--device cuda: the CUDA forward pass cannot run here: " + why.get()
                        + "; use --device cpu (or auto)");
            }
            return detected;
        }
        if (why.isEmpty() && detected.isCuda()) return detected;
        if (detected.isCuda()) {
            err.println("moespec: found " + detected.describe() + " but running on CPU: " + why.orElse(""));
            err.flush();
            return DeviceInfo.cpu(why.orElse("no GPU"));
        }
        return detected;
    }
}
