package dev.moespec.cli.bench;

import dev.moespec.api.device.DeviceInfo;
import dev.moespec.engine.bench.BenchDtype;
import dev.moespec.engine.bench.BenchJson;
import dev.moespec.engine.bench.BenchReport;
import dev.moespec.engine.bench.BenchShape;
import dev.moespec.engine.bench.BenchTable;
import dev.moespec.engine.bench.MoeBench;
import dev.moespec.engine.bench.PeerAnchors;
import dev.moespec.engine.device.DeviceSelection;
import dev.moespec.moe.registry.MoeBackendRegistry;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;

/**
 * {@code moespec bench moe}: times one MoE backend over shape × dtype × M rows with the definitions of the peer
 * anchors and prints a markdown table (device in the header), optionally JSON and a PNG plot. Progress goes to stderr.
 */
@Command(name = "moe", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Time an MoE backend over the anchors' rows (shapes x M x dtype) and compare each row with the peer (vLLM's Triton fused_moe).",
                "GPU backends are timed with CUDA events (L2 flushed before each rep, CUDA-graph replay); host backends with the wall clock."})
public final class BenchMoeCommand implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    @Option(names = "--backend", paramLabel = "NAME", defaultValue = "triton",
            description = "The MoE backend to time: a registered name, or auto (resolved per row) (default: ${DEFAULT-VALUE}).")
    String backend;

    @Option(names = "--dtype", paramLabel = "DTYPE", split = ",", defaultValue = "bf16,fp8",
            description = "Weight formats, repeatable or comma-separated: bf16, fp8 (per-tensor e4m3), fp8block (128x128 block scales) (default: ${DEFAULT-VALUE}).")
    List<String> dtypes;

    @Option(names = "--shapes", paramLabel = "SHAPE", split = ",", defaultValue = "mixtral,qwen3-30b-a3b,deepseek-v2-lite,small",
            description = "Layer shapes: mixtral, qwen3-30b-a3b, deepseek-v2-lite, small, and tiny (ours, no peer row) (default: ${DEFAULT-VALUE}).")
    List<String> shapes;

    @Option(names = "--tokens", paramLabel = "M", split = ",", defaultValue = "1,4,16,64,256,1024,4096",
            description = "Token counts M (default: ${DEFAULT-VALUE}).")
    List<Integer> tokens;

    @Option(names = "--reps", paramLabel = "N", defaultValue = "50",
            description = "Timed repetitions per stage; the median is reported (default: ${DEFAULT-VALUE}).")
    int reps;

    @Option(names = "--graphs", negatable = true, defaultValue = "true", fallbackValue = "true",
            description = "Replay CUDA graphs where the kernel captures (default: on; --no-graphs launches eagerly).")
    boolean graphs;

    @Option(names = "--seed", paramLabel = "N", defaultValue = "0", description = "Seed of the random weights and inputs (default: ${DEFAULT-VALUE}).")
    long seed;

    @Option(names = "--anchors", paramLabel = "DIR",
            description = "Directory of the peer's *.json (default: anchors/ of the moespec checkout).")
    Path anchors;

    @Option(names = "--json", paramLabel = "FILE", description = "Also write the results as JSON.")
    Path json;

    @Option(names = "--plot", paramLabel = "FILE.png", description = "Also draw us vs M per shape, ours against the peer, as a PNG.")
    Path plot;

    @Option(names = "--assume-device", paramLabel = "NAME", hidden = true, description = "Not allowed here: a benchmark measures the real device.")
    String assumeDevice;

    @Override
    public Integer call() {
        if (assumeDevice != null) {
            throw new ParameterException(spec.commandLine(), "--assume-device is not allowed for bench: a benchmark measures the real device"
                    + " (use it with 'moespec plan'); without a GPU only host backends such as cpu_reference can run");
        }
        if (plot != null && !plot.getFileName().toString().toLowerCase(java.util.Locale.ROOT).endsWith(".png")) {
            throw new ParameterException(spec.commandLine(), "--plot writes a PNG: give a file name ending in .png, got " + plot);
        }
        List<BenchShape> shapeList = shapes.stream().map(BenchShape::byName).distinct().toList();
        List<BenchDtype> dtypeList = dtypes.stream().map(BenchDtype::byName).distinct().toList();
        MoeBench.Config config = new MoeBench.Config(backend, shapeList, dtypeList, tokens, reps, graphs, seed);
        PeerAnchors peers = anchors != null ? PeerAnchors.load(anchors) : PeerAnchors.locate().map(PeerAnchors::load).orElse(PeerAnchors.none());
        DeviceInfo device = DeviceSelection.detect();
        MoeBackendRegistry registry = MoeBackendRegistry.load(Thread.currentThread().getContextClassLoader());

        PrintWriter err = spec.commandLine().getErr();
        BenchReport report = MoeBench.run(config, registry, device, peers, line -> {
            err.println(line);
            err.flush();
        });
        PrintWriter out = spec.commandLine().getOut();
        BenchTable.print(report, out);
        if (json != null) {
            BenchJson.write(report, json);
            err.println("wrote " + json);
        }
        if (plot != null) {
            BenchPlot.write(report, plot);
            err.println("wrote " + plot);
        }
        err.flush();
        return 0;
    }
}
