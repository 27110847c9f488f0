package dev.moespec.cli;

import dev.moespec.api.config.EngineConfig;
import dev.moespec.api.config.ModelConfig;
import dev.moespec.api.device.DeviceInfo;
import dev.moespec.engine.cuda.CudaRunners;
import dev.moespec.engine.device.DeviceSelection;
import dev.moespec.engine.generate.GenerationResult;
import dev.moespec.engine.generate.Generator;
import dev.moespec.engine.model.ModelRunner;
import dev.moespec.engine.sampling.SamplingParams;
import dev.moespec.engine.tokenizer.ByteLevelBpeTokenizer;
import dev.moespec.engine.wiring.Engine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.Locale;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.concurrent.Callable;

/**
 * {@code moespec generate}: loads a checkpoint, runs it on the GPU ({@code --device auto} when one is usable, or
 * {@code cuda}) or the CPU with the target's MoE binding resolved for that device, streams the continuation of a
 * prompt and ends with a summary (tokens/s, time to first token, MoE backend per role). Speculative generation is
 * a later issue: asking for it is refused with a reason.
 */
@Command(name = "generate", mixinStandardHelpOptions = true,
        description = {"Generate a continuation of a prompt, streaming tokens as they come.",
                "Runs on the GPU when one is usable (CUDA forward pass, decode steps as CUDA graphs), else on the CPU."})
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
            description = "vLLM-style JSON; validated as in 'plan' (speculative generation comes with issue 6).")
    String speculativeConfig;

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
        SamplingParams params = new SamplingParams(temperature, topK, topP,
                seed == null ? OptionalLong.empty() : OptionalLong.of(seed), maxTokens, ignoreEos);
        Path dir = model != null ? model : BundledModels.demoTarget();
        EngineConfig config = EngineConfig.builder(ModelConfig.load(dir)).moeBackend(moeBackend)
                .speculativeConfigJson(speculativeConfig).build();
        if (config.speculative().isPresent()) {
            throw new UserInputException("--speculative-config is valid (method '" + config.speculative().get().method()
                    + "'), but speculative generation is not implemented yet (issue 6); run 'moespec plan' with it to see"
                    + " the backends, or drop it to generate without speculation");
        }
        DeviceInfo run = device(where, err);
        try (Engine engine = Engine.build(config, run, Thread.currentThread().getContextClassLoader());
             ModelRunner runner = run.isCuda() ? CudaRunners.open(engine.target(), run.ordinal(), kvCacheMemory)
                     : engine.target().openRunner(kvCacheMemory)) {
            var tokenizer = ByteLevelBpeTokenizer.load(dir);
            Generator generator = new Generator(runner, tokenizer);
            out.print(prompt);
            out.flush();
            GenerationResult r = generator.generate(generator.promptIds(prompt), params, (id, text) -> {
                out.print(text);
                out.flush();
            });
            out.println();
            out.printf(Locale.ROOT, "--- %d prompt + %d new tokens (%s) on %s | %.1f tokens/s (decode %.1f tokens/s) | "
                            + "time to first token %.1f ms | MoE backend: target=%s%n",
                    r.promptTokens(), r.tokens().length, r.stop().name().toLowerCase(Locale.ROOT), runner.device(),
                    r.tokensPerSecond(), r.decodeTokensPerSecond(), r.ttftNanos() / 1e6, r.moeBackend());
            out.flush();
        }
        return 0;
    }

    /**
     * The device the engine is built for, so the MoE binding is resolved for the device it really runs on:
     * {@code cpu}; {@code cuda} (refused with the reason when the CUDA forward pass cannot run here); {@code auto} =
     * the GPU when the CUDA runner can use it, else the CPU, saying why when a GPU was found but cannot be used.
     */
    private static DeviceInfo device(String where, PrintWriter err) {
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
