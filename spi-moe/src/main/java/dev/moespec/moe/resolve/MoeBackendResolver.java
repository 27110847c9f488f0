package dev.moespec.moe.resolve;

import dev.moespec.api.config.ModelRole;
import dev.moespec.api.device.DeviceInfo;
import dev.moespec.api.plugin.PluginLocation;
import dev.moespec.api.plugin.PluginNames;
import dev.moespec.moe.Eligibility;
import dev.moespec.moe.MoeAutoPolicy;
import dev.moespec.moe.MoeBackendProvider;
import dev.moespec.moe.MoeLayerSpec;
import dev.moespec.moe.Phase;
import dev.moespec.moe.reference.CpuReferenceBackendProvider;
import dev.moespec.moe.registry.MoeBackendRegistry;
import dev.moespec.moe.resolve.SelectionReport.CandidateReport;
import dev.moespec.moe.resolve.SelectionReport.PhaseChoice;
import dev.moespec.moe.resolve.SelectionReport.Status;

import java.util.ArrayList;
import java.util.EnumMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.stream.Collectors;

/**
 * Resolves one {@link MoeBinding} per role from a {@link MoeBackendRegistry}.
 *
 * <ul>
 *   <li><b>Pinned</b>: the named backend or a {@link MoeBackendSelectionException} naming the fix — never a silent
 *       substitute.</li>
 *   <li><b>Auto</b>: per phase, the registry's {@link MoeAutoPolicy} ranking (without one: backends by name, and
 *       {@code cpu_reference} last on a CPU device only), first backend that is registered, not excluded and eligible.
 *       On a CPU device {@code cpu_reference} is the last resort; on a GPU nothing eligible is an error.</li>
 *   <li><b>Draft without {@code moe_backend}</b>: inherits the target's request; an inherited pinned backend that cannot
 *       run the draft's layers falls back to auto ({@link SelectionMode#FALLBACK}) with the reason in the report,
 *       where vLLM aborts (vllm#56832).</li>
 * </ul>
 */
public final class MoeBackendResolver {
    /** Where the target's request comes from. */
    public static final String TARGET_SOURCE = "--moe-backend";
    /** Where the draft's own request comes from. */
    public static final String DRAFT_SOURCE = "\"moe_backend\" in --speculative-config";
    /** A draft request taken over from the target. */
    public static final String INHERITED_SOURCE = "--moe-backend, inherited by the draft";

    private static final String AUTO = MoeBackendRegistry.AUTO;
    private static final String CPU_REFERENCE = CpuReferenceBackendProvider.NAME;

    private final MoeBackendRegistry registry;

    public MoeBackendResolver(MoeBackendRegistry registry) {
        this.registry = Objects.requireNonNull(registry, "registry");
    }

    /**
     * @param requested {@code --moe-backend}: {@code auto}, a backend name (normalised here), or null for auto
     */
    public MoeBinding resolveTarget(String requested, MoeLayerSpec layer, DeviceInfo device) {
        Request request = new Request(ModelRole.TARGET, normalize(requested), TARGET_SOURCE);
        return request.isAuto() ? auto(request, layer, device, SelectionMode.AUTO, null)
                : pinned(request, layer, device, SelectionMode.PINNED);
    }

    /**
     * @param draftRequested  {@code "moe_backend"} in the speculative config; null inherits {@code targetRequested}
     * @param targetRequested the target's {@code --moe-backend} (null = auto)
     * @param draftLayer      the draft's layer (its own quantization and shape)
     */
    public MoeBinding resolveDraft(String draftRequested, String targetRequested, MoeLayerSpec draftLayer, DeviceInfo device) {
        if (draftRequested != null) {
            Request request = new Request(ModelRole.DRAFT, normalize(draftRequested), DRAFT_SOURCE);
            return request.isAuto() ? auto(request, draftLayer, device, SelectionMode.AUTO, null)
                    : pinned(request, draftLayer, device, SelectionMode.PINNED);
        }
        Request inherited = new Request(ModelRole.DRAFT, normalize(targetRequested), INHERITED_SOURCE);
        if (inherited.isAuto()) return auto(inherited, draftLayer, device, SelectionMode.AUTO, null);

        registry.require(inherited.name(), inherited.source()); // an unknown name is an error, inherited or not
        Map<String, Eligibility> verdicts = evaluate(inherited.role(), draftLayer, device);
        if (verdicts.get(inherited.name()) instanceof Eligibility.Rejected rejected) {
            String why = "inherited '" + inherited.name() + "' from " + TARGET_SOURCE + " cannot run the draft's layers ("
                    + rejected + "); fell back to auto. Set " + DRAFT_SOURCE + " to choose explicitly.";
            return auto(inherited, draftLayer, device, SelectionMode.FALLBACK, why);
        }
        return pinned(inherited, draftLayer, device, SelectionMode.INHERITED);
    }

    private MoeBinding pinned(Request request, MoeLayerSpec layer, DeviceInfo device, SelectionMode mode) {
        MoeBackendProvider provider = registry.require(request.name(), request.source());
        Map<String, Eligibility> verdicts = evaluate(request.role(), layer, device);
        if (verdicts.get(request.name()) instanceof Eligibility.Rejected rejected) {
            List<CandidateReport> candidates = candidates(verdicts, Map.of(), name -> "eligible");
            String problem = rejected.reason() == Eligibility.Reason.EXCLUDED
                    ? "is " + rejected.detail() + ". Remove it from the exclusion, or " + fix(request, verdicts)
                    : "cannot run layer " + layer.describe() + " on " + device.describe() + ": " + rejected + ". "
                      + capitalize(fix(request, verdicts));
            throw new MoeBackendSelectionException(request.role(), "The " + request.role().label() + "'s MoE backend '"
                    + request.name() + "' (" + request.source() + ") " + problem, candidates);
        }
        String rationale = (mode == SelectionMode.INHERITED ? "inherited from " + TARGET_SOURCE : "pinned by " + request.source());
        Map<Phase, MoeBinding.Choice> choices = new EnumMap<>(Phase.class);
        for (Phase phase : Phase.values()) choices.put(phase, new MoeBinding.Choice(phase, provider, rationale));
        List<CandidateReport> candidates = candidates(verdicts, choices,
                name -> "eligible; not considered because " + request.source() + " selects '" + request.name() + "'");
        return binding(request, layer, device, mode, "pinned", choices, candidates, null, List.of());
    }

    private MoeBinding auto(Request request, MoeLayerSpec layer, DeviceInfo device, SelectionMode mode, String fallbackReason) {
        Map<String, Eligibility> verdicts = evaluate(request.role(), layer, device);
        MoeAutoPolicy policy = registry.autoPolicy().orElse(null);
        String policyName = policy == null ? "by-name" : policy.name();
        Map<Phase, MoeBinding.Choice> choices = new EnumMap<>(Phase.class);
        Map<Phase, List<String>> rankings = new EnumMap<>(Phase.class);
        Set<String> notes = new LinkedHashSet<>();

        for (Phase phase : Phase.values()) {
            List<MoeAutoPolicy.Preference> ranking = policy == null ? byName(device)
                    : policy.rank(layer, device, phase, registry.names());
            List<String> ranked = new ArrayList<>();
            List<String> skipped = new ArrayList<>();
            for (MoeAutoPolicy.Preference preference : ranking) {
                String name = PluginNames.normalize(preference.backend());
                ranked.add(name);
                Eligibility verdict = verdicts.get(name);
                if (verdict == null) {
                    notes.add("policy " + policyName + " ranks '" + name + "', which no jar provides");
                } else if (choices.containsKey(phase)) {
                    continue; // ranked below the winner: the candidate report says so
                } else if (verdict instanceof Eligibility.Rejected r) {
                    skipped.add(name + " (" + r.reason() + ")");
                } else {
                    String rationale = (policy == null ? "" : "policy " + policyName + ": ") + preference.rationale()
                            + (skipped.isEmpty() ? "" : "; skipped " + String.join(", ", skipped));
                    choices.put(phase, new MoeBinding.Choice(phase, registry.require(name, request.source()), rationale));
                }
            }
            rankings.put(phase, ranked);
            if (!choices.containsKey(phase) && !device.isCuda() && verdicts.get(CPU_REFERENCE) instanceof Eligibility.Eligible) {
                choices.put(phase, new MoeBinding.Choice(phase, registry.require(CPU_REFERENCE, request.source()),
                        "last resort on a CPU device: no backend ranked by " + policyName + " is eligible"));
            }
            if (!choices.containsKey(phase)) {
                throw nothingEligible(request, layer, device, phase, policyName, verdicts, rankings, fallbackReason);
            }
        }
        List<CandidateReport> candidates = candidates(verdicts, choices, name -> notChosen(name, device, policyName, rankings, choices));
        return binding(request, layer, device, mode, policyName, choices, candidates, fallbackReason, List.copyOf(notes));
    }

    /** Without a policy: every backend by name; cpu_reference only on a CPU device, and last. */
    private List<MoeAutoPolicy.Preference> byName(DeviceInfo device) {
        List<MoeAutoPolicy.Preference> ranking = new ArrayList<>();
        for (String name : registry.names()) {
            if (!name.equals(CPU_REFERENCE)) {
                ranking.add(new MoeAutoPolicy.Preference(name, "no MoeAutoPolicy on the classpath; first eligible backend by name"));
            }
        }
        if (!device.isCuda() && registry.names().contains(CPU_REFERENCE)) {
            ranking.add(new MoeAutoPolicy.Preference(CPU_REFERENCE, "no GPU: the fp32 CPU reference kernel"));
        }
        return ranking;
    }

    private String notChosen(String name, DeviceInfo device, String policyName,
                             Map<Phase, List<String>> rankings, Map<Phase, MoeBinding.Choice> choices) {
        if (name.equals(CPU_REFERENCE) && device.isCuda() && rankings.values().stream().noneMatch(r -> r.contains(name))) {
            return "eligible; the CPU fallback is not auto-selected on a GPU; pin it to use it";
        }
        Map<String, List<String>> byDetail = new LinkedHashMap<>();
        for (Phase phase : Phase.values()) {
            String detail;
            if (choices.get(phase).backend().equals(name)) {
                detail = "chosen";
            } else if (rankings.get(phase).contains(name)) {
                detail = "ranked below '" + choices.get(phase).backend() + "' by " + policyName;
            } else {
                detail = "not ranked by policy " + policyName;
            }
            byDetail.computeIfAbsent(detail, d -> new ArrayList<>()).add(phase.label());
        }
        return byDetail.entrySet().stream()
                .map(e -> e.getKey() + " for " + String.join(" and ", e.getValue()))
                .collect(Collectors.joining("; ", "eligible; ", ""));
    }

    private MoeBackendSelectionException nothingEligible(Request request, MoeLayerSpec layer, DeviceInfo device, Phase phase,
                                                         String policyName, Map<String, Eligibility> verdicts,
                                                         Map<Phase, List<String>> rankings, String fallbackReason) {
        List<String> unranked = verdicts.entrySet().stream()
                .filter(e -> e.getValue().isEligible() && !rankings.get(phase).contains(e.getKey()))
                .map(Map.Entry::getKey).toList();
        String rejections = verdicts.entrySet().stream()
                .filter(e -> e.getValue() instanceof Eligibility.Rejected)
                .map(e -> e.getKey() + ": " + e.getValue())
                .collect(Collectors.joining("; "));
        String fix = unranked.isEmpty()
                ? "Add a backend jar that supports this layer, or remove an exclusion."
                : "Eligible but not ranked by " + policyName + ": " + String.join(", ", unranked) + "; "
                  + (request.role() == ModelRole.TARGET ? "pass --moe-backend " : "set " + DRAFT_SOURCE + " to ")
                  + "one of them to use it.";
        String message = (fallbackReason == null ? "" : capitalize(fallbackReason) + " ")
                + "No MoE backend can run the " + request.role().label() + "'s layer " + layer.describe() + " on "
                + device.describe() + " for " + phase.label() + " (policy " + policyName + "). "
                + (rejections.isEmpty() ? "No backend is registered. " : "Rejections: " + rejections + ". ") + fix;
        return new MoeBackendSelectionException(request.role(), message, candidates(verdicts, Map.of(), n -> "eligible; not ranked"));
    }

    /** The fix for a pinned backend that cannot serve: auto, or the backends that can. */
    private static String fix(Request request, Map<String, Eligibility> verdicts) {
        List<String> eligible = verdicts.entrySet().stream().filter(e -> e.getValue().isEligible()).map(Map.Entry::getKey).toList();
        String list = eligible.isEmpty() ? "(none is eligible for this layer)" : String.join(", ", eligible);
        return request.role() == ModelRole.TARGET
                ? "pass --moe-backend auto or one of the eligible backends: " + list + "."
                : "set " + DRAFT_SOURCE + " to auto or one of: " + list + ".";
    }

    /** Every registered backend's verdict for this layer and device, sorted by name; exclusion counts as a rejection. */
    private Map<String, Eligibility> evaluate(ModelRole role, MoeLayerSpec layer, DeviceInfo device) {
        Map<String, Eligibility> verdicts = new LinkedHashMap<>();
        for (MoeBackendProvider provider : registry.providers()) {
            String name = provider.name();
            if (registry.isExcluded(name)) {
                verdicts.put(name, Eligibility.rejected(Eligibility.Reason.EXCLUDED, registry.exclusionSource()));
                continue;
            }
            Eligibility verdict;
            try {
                verdict = provider.check(layer, device);
            } catch (RuntimeException e) {
                throw new MoeBackendSelectionException(role, "MoE backend '" + name + "' (" + provider.getClass().getName()
                        + " from " + PluginLocation.of(provider.getClass()) + ") threw from check() for layer " + layer.describe()
                        + " on " + device.describe() + ": " + e + ". Fix the backend or exclude it with -D"
                        + MoeBackendRegistry.EXCLUDE_PROPERTY + "=" + name + ".", e);
            }
            if (verdict == null) {
                throw new MoeBackendSelectionException(role, "MoE backend '" + name + "' (" + provider.getClass().getName()
                        + ") returned null from check(); it must return Eligibility.eligible() or Eligibility.rejected(...). "
                        + "Fix the backend or exclude it with -D" + MoeBackendRegistry.EXCLUDE_PROPERTY + "=" + name + ".", List.of());
            }
            verdicts.put(name, verdict);
        }
        return verdicts;
    }

    private static List<CandidateReport> candidates(Map<String, Eligibility> verdicts, Map<Phase, MoeBinding.Choice> choices,
                                                    java.util.function.Function<String, String> eligibleDetail) {
        List<CandidateReport> out = new ArrayList<>();
        verdicts.forEach((name, verdict) -> {
            List<String> won = choices.values().stream().filter(c -> c.backend().equals(name)).map(c -> c.phase().label()).toList();
            if (!won.isEmpty() && won.size() == choices.size()) {
                out.add(new CandidateReport(name, Status.CHOSEN, "chosen for " + String.join(" and ", won)));
            } else if (!won.isEmpty()) {
                out.add(new CandidateReport(name, Status.CHOSEN, eligibleDetail.apply(name).replaceFirst("^eligible; ", "")));
            } else if (verdict instanceof Eligibility.Rejected r) {
                out.add(new CandidateReport(name, r.reason() == Eligibility.Reason.EXCLUDED ? Status.EXCLUDED : Status.REJECTED,
                        r.reason() == Eligibility.Reason.EXCLUDED ? r.detail() : r.toString()));
            } else {
                out.add(new CandidateReport(name, Status.ELIGIBLE_NOT_CHOSEN, eligibleDetail.apply(name)));
            }
        });
        return out;
    }

    private static MoeBinding binding(Request request, MoeLayerSpec layer, DeviceInfo device, SelectionMode mode, String policy,
                                      Map<Phase, MoeBinding.Choice> choices, List<CandidateReport> candidates,
                                      String fallbackReason, List<String> notes) {
        List<MoeBinding.Choice> ordered = List.copyOf(choices.values()); // EnumMap: decode, prefill
        SelectionReport report = new SelectionReport(request.role(), layer.describe(), device.describe(), request.name(),
                request.source(), mode, policy,
                ordered.stream().map(c -> new PhaseChoice(c.phase(), c.backend(), c.rationale())).toList(),
                candidates, fallbackReason, notes);
        return new MoeBinding(request.role(), request.name(), mode, ordered, report);
    }

    private static String normalize(String requested) {
        return requested == null || requested.isBlank() ? AUTO : PluginNames.normalize(requested);
    }

    private static String capitalize(String s) {
        return s.isEmpty() ? s : Character.toUpperCase(s.charAt(0)) + s.substring(1);
    }

    private record Request(ModelRole role, String name, String source) {
        boolean isAuto() {
            return name.equals(AUTO);
        }
    }
}
