package dev.moespec.engine.plan;

import dev.moespec.api.config.DraftConfigStrategy;
import dev.moespec.api.config.EngineConfig;
import dev.moespec.api.config.SpeculativeConfig;
import dev.moespec.api.proposer.ProposerProvider;
import dev.moespec.engine.wiring.Engine;
import dev.moespec.engine.wiring.RoleMoe;
import dev.moespec.engine.wiring.RoleRuntime;
import dev.moespec.moe.KernelContext;
import dev.moespec.moe.MoeKernelUnavailableException;
import dev.moespec.moe.Phase;
import dev.moespec.moe.resolve.MoeBinding;

import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/** Builds an {@link Engine} for a config and describes it as a {@link Plan}, without loading weights. */
public final class Planner {
    private Planner() {}

    public static Plan plan(Engine engine) {
        RoleRuntime target = engine.target();
        Optional<RoleRuntime> draft = engine.draft();
        List<String> warnings = new ArrayList<>(engine.backends().warnings());
        target.config().speculative().ifPresent(spec -> warnings.addAll(spec.warnings()));
        return new Plan(engine.device().describe(), rolePlan(engine, target, target.config()),
                draft.map(d -> rolePlan(engine, d, drafterCheckpoint(d.config()))),
                target.config().speculative().map(spec -> proposerPlan(engine, spec)), List.copyOf(warnings));
    }

    /** The draft role's MoE layers come from the drafter's own checkpoint; show that one. */
    private static EngineConfig drafterCheckpoint(EngineConfig draftConfig) {
        SpeculativeConfig spec = draftConfig.speculative().orElseThrow();
        return spec.draftModelConfig().map(m -> draftConfig.withModel(m).withQuant(spec.draftQuant())).orElse(draftConfig);
    }

    private static Plan.RolePlan rolePlan(Engine engine, RoleRuntime role, EngineConfig shown) {
        Optional<RoleMoe.Bound> bound = role.moe() instanceof RoleMoe.Bound b ? Optional.of(b) : Optional.empty();
        Optional<MoeBinding> binding = bound.map(RoleMoe.Bound::binding);
        Optional<String> noMoe = role.moe() instanceof RoleMoe.NoMoeLayers n ? Optional.of(n.why()) : Optional.empty();
        List<Plan.KernelReadiness> kernels = bound.map(b -> readiness(engine, role, b)).orElse(List.of());
        return new Plan.RolePlan(role.role().label(), shown.model().name(), shown.model().architecture(),
                shown.quant().moeScheme().cliName(), role.config().parallel().tensorParallelSize(),
                role.config().maxModelLen(), role.config().kernel().moeBackend(), binding.map(MoeBinding::report),
                noMoe, kernels);
    }

    /** Asks each chosen backend to create its kernel in plan-only mode: typed refusals are shown, not thrown. */
    private static List<Plan.KernelReadiness> readiness(Engine engine, RoleRuntime role, RoleMoe.Bound bound) {
        List<Plan.KernelReadiness> out = new ArrayList<>();
        for (Phase phase : Phase.values()) {
            var choice = bound.binding().choiceFor(phase);
            String name = choice.provider().name();
            try (var kernel = choice.provider().create(bound.layer(),
                    new KernelContext(role.role(), engine.device(), true))) {
                out.add(new Plan.KernelReadiness(phase.label(), name, true, "ready (" + kernel.backend() + ")"));
            } catch (MoeKernelUnavailableException e) {
                out.add(new Plan.KernelReadiness(phase.label(), name, false, e.rejection().toString()));
            }
        }
        return out;
    }

    private static Plan.ProposerPlan proposerPlan(Engine engine, SpeculativeConfig spec) {
        Optional<ProposerProvider> provider = engine.proposers().find(spec.method());
        DraftConfigStrategy strategy = provider.map(ProposerProvider::draftConfigStrategy)
                .orElse(DraftConfigStrategy.defaultFor(spec.method()));
        String builder = strategy == DraftConfigStrategy.FOR_DRAFT_MODEL ? "forDraftModel" : "forSpecDecode";
        String detail = provider.map(ProposerProvider::description).orElse("no proposer jar provides '"
                + spec.method() + "' yet (installed: " + String.join(", ", engine.proposers().methods())
                + "); the plan shows the MoE backends it would use, generation needs the proposer");
        return new Plan.ProposerPlan(spec.method(), spec.numSpeculativeTokens(), builder, provider.isPresent(), detail);
    }
}
