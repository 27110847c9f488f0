package dev.moespec.engine.plan;

import dev.moespec.moe.resolve.SelectionReport;

import java.util.List;
import java.util.Optional;

/**
 * What {@code moespec plan} shows: per role, the config it will run with and which MoE backend runs its layers
 * and why. Plain records, so the CLI prints them as text or serialises them as JSON.
 *
 * @param device   the device planned for ({@link dev.moespec.api.device.DeviceInfo#describe()})
 * @param target   the target model
 * @param draft    the drafter, when a speculative config is given
 * @param proposer the speculative method, when a speculative config is given
 * @param warnings notes for the user (deprecated method names, excluded backends no jar provides)
 */
public record Plan(String device, RolePlan target, Optional<RolePlan> draft, Optional<ProposerPlan> proposer,
                   List<String> warnings) {

    /**
     * One role.
     *
     * @param role              "target" or "draft"
     * @param model             the checkpoint directory whose MoE layers this role runs
     * @param architecture      HF architecture
     * @param quantization      the MoE weights' quantization scheme
     * @param tensorParallel    tensor-parallel size
     * @param maxModelLen       maximum sequence length
     * @param moeBackend        the backend this role's config asks for ({@code auto}, a name, or the inherited one)
     * @param moe               the selection report, when the role has MoE layers
     * @param noMoeLayers       why not, when it has none
     * @param kernels           per phase, whether the chosen backend can create its kernel today
     */
    public record RolePlan(String role, String model, String architecture, String quantization, int tensorParallel,
                           int maxModelLen, String moeBackend, Optional<SelectionReport> moe,
                           Optional<String> noMoeLayers, List<KernelReadiness> kernels) {}

    /** Whether {@code backend}'s kernel for {@code phase} can be created ({@code create()} with planOnly). */
    public record KernelReadiness(String phase, String backend, boolean ready, String detail) {}

    /**
     * The speculative method.
     *
     * @param method               normalised method name
     * @param numSpeculativeTokens k
     * @param draftConfigBuilder   {@code forSpecDecode} or {@code forDraftModel}
     * @param installed            whether a proposer jar for the method is on the classpath
     * @param detail               the proposer's description, or what to do when it is missing
     */
    public record ProposerPlan(String method, int numSpeculativeTokens, String draftConfigBuilder, boolean installed,
                               String detail) {}
}
