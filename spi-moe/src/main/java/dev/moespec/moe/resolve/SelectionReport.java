package dev.moespec.moe.resolve;

import dev.moespec.api.config.ModelRole;
import dev.moespec.moe.Phase;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Optional;

/**
 * Why a role runs the MoE backend(s) it runs: the layer and device, what was requested, how it was selected, the
 * winner per phase, and every other registered backend with the reason it lost. Names and strings only, so that it
 * serialises with a plain Jackson {@code ObjectMapper} ({@code moespec plan --json}).
 *
 * @param role           the model
 * @param layer          {@code MoeLayerSpec.describe()}
 * @param device         {@code DeviceInfo.describe()}
 * @param requested      the normalised request ({@code auto}, or a backend name)
 * @param requestSource  where the request came from ({@code --moe-backend}, {@code "moe_backend" in --speculative-config}, ...)
 * @param mode           how the winners were chosen
 * @param policy         the auto policy's name, or {@code pinned} when no policy was consulted
 * @param phases         one winner per phase, decode first
 * @param candidates     every registered backend, sorted by name
 * @param fallbackReason why an inherited backend was replaced ({@link SelectionMode#FALLBACK}); null otherwise
 * @param notes          other remarks (a policy ranking a backend no jar provides)
 */
public record SelectionReport(ModelRole role, String layer, String device, String requested, String requestSource,
                              SelectionMode mode, String policy, List<PhaseChoice> phases,
                              List<CandidateReport> candidates, String fallbackReason, List<String> notes) {

    public SelectionReport {
        phases = List.copyOf(phases);
        candidates = List.copyOf(candidates);
        notes = List.copyOf(notes);
    }

    /** {@link #fallbackReason()} as an Optional (a record component of type Optional would not serialise). */
    public Optional<String> fallback() {
        return Optional.ofNullable(fallbackReason);
    }

    /** The winner for one phase. */
    public record PhaseChoice(Phase phase, String backend, String rationale) {}

    /** One registered backend and how it fared. */
    public record CandidateReport(String backend, Status status, String detail) {}

    public enum Status { CHOSEN, ELIGIBLE_NOT_CHOSEN, REJECTED, EXCLUDED }

    /**
     * Readable lines for {@code moespec plan} and logs:
     * <pre>
     * draft  : triton  [FALLBACK]
     *   layer    E=16 top-4 H=256 I=128 silu softmax-topk-renorm bf16
     *   device   NVIDIA H100 80GB HBM3 (sm_90, 132 SMs, 79.6 GiB)
     *   request  flashinfer_trtllm (--moe-backend, inherited by the draft)
     *   why      inherited 'flashinfer_trtllm' from --moe-backend cannot run ...; fell back to auto. ...
     *   decode   triton  (policy heuristic-table: ...)
     *   prefill  triton  (policy heuristic-table: ...)
     *   rejected flashinfer_trtllm  UNSUPPORTED_QUANTIZATION: ...
     * </pre>
     */
    public List<String> render() {
        List<String> lines = new ArrayList<>();
        lines.add("%-6s : %s  [%s]".formatted(role.label(), winners(), mode));
        lines.add(line("layer", layer));
        lines.add(line("device", device));
        lines.add(line("request", requested + " (" + requestSource + ")"));
        fallback().ifPresent(why -> lines.add(line("why", why)));
        int width = phases.stream().mapToInt(p -> p.backend().length()).max().orElse(0);
        for (PhaseChoice p : phases) {
            lines.add(line(p.phase().label(), pad(p.backend(), width) + "  (" + p.rationale() + ")"));
        }
        int nameWidth = candidates.stream().filter(c -> c.status() != Status.CHOSEN)
                .mapToInt(c -> c.backend().length()).max().orElse(0);
        for (Status status : List.of(Status.REJECTED, Status.EXCLUDED, Status.ELIGIBLE_NOT_CHOSEN)) {
            for (CandidateReport c : candidates) {
                if (c.status() == status) lines.add(line(label(status), pad(c.backend(), nameWidth) + "  " + c.detail()));
            }
        }
        notes.forEach(n -> lines.add(line("note", n)));
        return lines;
    }

    private String winners() {
        if (phases.stream().map(PhaseChoice::backend).distinct().count() == 1) return phases.getFirst().backend();
        return String.join(", ", phases.stream().map(p -> p.backend() + " (" + p.phase().label() + ")").toList());
    }

    private static String label(Status status) {
        return switch (status) {
            case REJECTED -> "rejected";
            case EXCLUDED -> "excluded";
            case ELIGIBLE_NOT_CHOSEN -> "eligible";
            case CHOSEN -> status.name().toLowerCase(Locale.ROOT);
        };
    }

    private static String line(String label, String text) {
        return "  " + pad(label, 8) + " " + text;
    }

    private static String pad(String s, int width) {
        return s.length() >= width ? s : s + " ".repeat(width - s.length());
    }
}
