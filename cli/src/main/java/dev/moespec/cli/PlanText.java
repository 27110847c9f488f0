package dev.moespec.cli;

import dev.moespec.engine.plan.Plan;

import java.io.PrintWriter;

/** The human form of a {@link Plan}: one block per role, the selection report indented under it. */
final class PlanText {
    private PlanText() {}

    static void print(Plan plan, String assumedDevice, PrintWriter out) {
        out.println("device   " + plan.device() + (assumedDevice == null ? "" : "   [--assume-device " + assumedDevice + "]"));
        plan.proposer().ifPresent(p -> out.println("spec     method=" + p.method() + "  num_speculative_tokens="
                + p.numSpeculativeTokens() + "  draft config built by SpecDecodeConfigs." + p.draftConfigBuilder()
                + (p.installed() ? "" : "  (proposer not installed)")));
        out.println();
        role(plan.target(), out);
        plan.draft().ifPresent(d -> {
            out.println();
            role(d, out);
        });
        plan.proposer().filter(p -> !p.installed()).ifPresent(p -> {
            out.println();
            out.println("note     " + p.detail());
        });
        for (String w : plan.warnings()) {
            out.println("warning  " + w);
        }
    }

    private static void role(Plan.RolePlan r, PrintWriter out) {
        out.printf("[%s] %s  %s  %s  tp=%d  max_model_len=%d  moe_backend=%s%n", r.role(), r.model(), r.architecture(),
                r.quantization(), r.tensorParallel(), r.maxModelLen(), r.moeBackend());
        r.noMoeLayers().ifPresent(why -> out.println("  no MoE layers: " + why));
        r.moe().ifPresent(report -> report.render().forEach(line -> out.println("  " + line)));
        var kernels = r.kernels();
        boolean same = kernels.size() == 2 && kernels.get(0).backend().equals(kernels.get(1).backend())
                && kernels.get(0).detail().equals(kernels.get(1).detail());
        for (Plan.KernelReadiness k : same ? kernels.subList(0, 1) : kernels) {
            out.printf("  kernel  %-7s %-18s %s%n", same ? "both" : k.phase(), k.backend(),
                    k.ready() ? "ready" : "create() refuses: " + k.detail());
        }
    }
}
