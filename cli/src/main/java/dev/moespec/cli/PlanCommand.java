package dev.moespec.cli;

import dev.moespec.api.config.EngineConfig;
import dev.moespec.api.config.ModelConfig;
import dev.moespec.api.device.DeviceInfo;
import dev.moespec.engine.device.DeviceSelection;
import dev.moespec.engine.plan.Plan;
import dev.moespec.engine.plan.Planner;
import dev.moespec.engine.wiring.Engine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

import java.nio.file.Path;
import java.util.concurrent.Callable;

/** {@code moespec plan}: which MoE backend each role will run, and why — without loading any weights. */
@Command(name = "plan", mixinStandardHelpOptions = true,
        description = {"Show the target and draft configs and, per role, which MoE backend will run its layers and why.",
                "Nothing is loaded onto the GPU; weights are not read."})
final class PlanCommand implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    @Option(names = "--model", paramLabel = "DIR",
            description = "Hugging Face checkpoint directory (default: the bundled demo target, models/demo-target).")
    Path model;

    @Option(names = "--moe-backend", paramLabel = "NAME", defaultValue = "auto",
            description = "The target's MoE backend: auto or a registered name (default: ${DEFAULT-VALUE}).")
    String moeBackend;

    @Option(names = "--speculative-config", paramLabel = "JSON",
            description = "vLLM-style JSON, e.g. '{\"method\":\"mtp\",\"num_speculative_tokens\":1,\"moe_backend\":\"triton\"}'.")
    String speculativeConfig;

    @Option(names = "--tensor-parallel-size", paramLabel = "N", defaultValue = "1",
            description = "Target tensor-parallel size (default: ${DEFAULT-VALUE}).")
    int tensorParallelSize;

    @Option(names = "--assume-device", paramLabel = "NAME",
            description = "Plan for a GPU this machine does not have: h100, h200, a100, l40s or cpu (default: the detected device).")
    String assumeDevice;

    @Option(names = "--json", description = "Print the plan as JSON.")
    boolean json;

    @Override
    public Integer call() throws Exception {
        Path dir = model != null ? model : BundledModels.demoTarget();
        EngineConfig config = EngineConfig.builder(ModelConfig.load(dir))
                .moeBackend(moeBackend)
                .tensorParallelSize(tensorParallelSize)
                .speculativeConfigJson(speculativeConfig)
                .build();
        DeviceInfo device = DeviceSelection.assume(assumeDevice);
        Plan plan;
        try (Engine engine = Engine.build(config, device, Thread.currentThread().getContextClassLoader())) {
            plan = Planner.plan(engine);
        }
        var out = spec.commandLine().getOut();
        if (json) {
            out.println(PlanJson.write(plan));
        } else {
            PlanText.print(plan, assumeDevice, out);
        }
        out.flush();
        return 0;
    }
}
