package dev.moespec.cli.bench;

import dev.moespec.api.device.DeviceInfo;
import dev.moespec.engine.cuda.CudaRunners;
import dev.moespec.engine.decodebench.DecodeBench;
import dev.moespec.engine.decodebench.DecodeBenchRow;
import dev.moespec.engine.decodebench.DecodeBenchTable;
import dev.moespec.engine.device.DeviceSelection;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.concurrent.Callable;

/**
 * {@code moespec bench decode}: greedy decode tokens/s of a model for batch 1..64 on the CPU and the GPU (CUDA graphs
 * off and on), and the share of a GPU step in attention, MoE, dense GEMMs, sampling, other kernels and Java-side
 * dispatch. Progress on stderr, the table on stdout.
 */
@Command(name = "decode", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Decode tokens/s for several batch sizes on the CPU and the GPU (CUDA graphs off and on),",
                "and where a GPU decode step goes: attention, MoE, dense GEMMs, sampling, other kernels, Java-side dispatch."})
public final class DecodeBenchCommand implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    @Option(names = "--model", paramLabel = "DIR", description = "Checkpoint directory (default: the bundled demo target, models/demo-target).")
    Path model;

    @Option(names = "--batch-sizes", paramLabel = "N", split = ",", defaultValue = "1,2,4,8,16,32,64",
            description = "Sequences decoded together, each 1..64 (default: ${DEFAULT-VALUE}).")
    List<Integer> batches;

    @Option(names = "--steps", paramLabel = "N", defaultValue = "50", description = "Timed decode steps per configuration; the median is reported (default: ${DEFAULT-VALUE}).")
    int steps;

    @Option(names = "--warmup", paramLabel = "N", defaultValue = "50",
            description = "Untimed steps first: they capture the graphs and let the JIT compile the dispatch code (default: ${DEFAULT-VALUE}).")
    int warmup;

    @Option(names = "--jit-warmup", paramLabel = "N", defaultValue = "3000",
            description = "GPU decode steps run once before any configuration (batch 1, graphs on and off, fresh sequences),"
                    + " so the Java-side share is that of compiled dispatch code, as in a long-running server (default: ${DEFAULT-VALUE}).")
    int jitWarmup;

    @Option(names = "--device", paramLabel = "auto|cpu|cuda|both", defaultValue = "auto",
            description = "auto = the CPU, and the GPU when usable; both = insist on both (default: ${DEFAULT-VALUE}).")
    String device;

    @Option(names = "--moe-backend", paramLabel = "NAME", defaultValue = "auto", description = "The model's MoE backend (default: ${DEFAULT-VALUE}).")
    String moeBackend;

    @Option(names = "--kv-cache-memory", paramLabel = "BYTES", defaultValue = "268435456",
            description = "KV-cache budget per runner in bytes (default: ${DEFAULT-VALUE} = 256 MiB).")
    long kvCacheMemory;

    @Override
    public Integer call() {
        PrintWriter out = spec.commandLine().getOut(), err = spec.commandLine().getErr();
        String where = device.strip().toLowerCase(Locale.ROOT);
        if (!List.of("auto", "cpu", "cuda", "both").contains(where)) {
            throw new ParameterException(spec.commandLine(), "unknown --device '" + device + "'; valid values: auto, cpu, cuda, both");
        }
        Path dir = model != null ? model : demoTarget();
        DeviceInfo detected = DeviceSelection.detect();
        Optional<String> why = detected.isCuda() ? CudaRunners.unavailableReason() : Optional.of(detected.note());
        boolean gpu = !where.equals("cpu") && why.isEmpty();
        if ((where.equals("cuda") || where.equals("both")) && !gpu) {
            throw new ParameterException(spec.commandLine(), "--device " + where + ": the CUDA forward pass cannot run here: " + why.orElse("")
                    + "; use --device cpu");
        }
        boolean cpu = !where.equals("cuda");
        if (where.equals("auto") && !gpu) err.println("bench decode: GPU skipped: " + why.orElse(""));
        DecodeBench.Options o;
        try {
            o = new DecodeBench.Options(dir, moeBackend, batches.stream().mapToInt(Integer::intValue).toArray(), steps, warmup, cpu, gpu,
                    kvCacheMemory, jitWarmup);
        } catch (IllegalArgumentException e) {
            throw new ParameterException(spec.commandLine(), e.getMessage());
        }
        List<DecodeBenchRow> rows = DecodeBench.run(o, detected, Thread.currentThread().getContextClassLoader(), err);
        out.println("# bench decode: " + dir.getFileName() + ", greedy, " + steps + " timed steps (median), moe-backend " + moeBackend);
        out.print(DecodeBenchTable.render(rows));
        out.println("# shares of the wall time of a step: regions = device time (CUDA events inside the captured graph, scaled to the"
                + " plain graph's device time); java = median host time to queue the step (Java + driver calls, after a JIT warm-up of " + jitWarmup + " steps); host = 1 - device/wall");
        out.flush();
        return 0;
    }

    /** models/demo-target of the checkpoint this runs from (as {@code generate} finds it). */
    private static Path demoTarget() {
        for (Path d = Path.of("").toAbsolutePath(); d != null; d = d.getParent()) {
            Path t = d.resolve("models/demo-target");
            if (Files.isDirectory(t)) return t;
        }
        throw new IllegalStateException("models/demo-target not found above " + Path.of("").toAbsolutePath() + "; pass --model DIR");
    }
}
