package dev.moespec.cli;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import com.fasterxml.jackson.databind.SerializationFeature;
import dev.moespec.engine.spec.SpecMetrics;

import java.io.UncheckedIOException;
import java.util.Locale;
import java.util.StringJoiner;

/** Text and JSON forms of speculative-decoding metrics, shared by {@code generate} and {@code bench spec}. */
final class SpecReport {
    private static final ObjectMapper MAPPER = new ObjectMapper()
            .setPropertyNamingStrategy(PropertyNamingStrategies.SNAKE_CASE)
            .enable(SerializationFeature.INDENT_OUTPUT);

    private SpecReport() {}

    /** The acceptance line(s) of a speculative run; empty for a plain one. */
    static String acceptance(SpecMetrics m) {
        if (m.k() == 0) return "";
        StringJoiner perPosition = new StringJoiner(", ", "[", "]");
        for (double p : m.perPositionAcceptance()) perPosition.add(String.format(Locale.ROOT, "%.3f", p));
        return String.format(Locale.ROOT, "    acceptance rate %.3f | mean acceptance length %.3f | mean accepted/step %.3f"
                        + " | per position %s | %d drafts, %d of %d draft tokens accepted%n", m.acceptanceRate(),
                m.meanAcceptanceLength(), m.meanAcceptedPerStep(), perPosition, m.drafts(), m.acceptedTokens(), m.draftTokens());
    }

    /**
     * The launches line: per role, the launches per kernel image, e.g. {@code launches  target:
     * moespec-backend-flashinfer-trtllm 4608, moespec-engine 9216 | draft: moespec-backend-triton 1152, ...}; roles
     * in the order target, draft, then any other; empty when nothing was launched (the CPU).
     */
    static String launches(java.util.Map<String, java.util.Map<String, Long>> byRole) {
        if (byRole.isEmpty()) return "";
        java.util.List<String> roles = new java.util.ArrayList<>(byRole.keySet());
        roles.sort(java.util.Comparator.comparingInt((String r) -> r.equals("target") ? 0 : r.equals("draft") ? 1 : 2)
                .thenComparing(r -> r));
        StringJoiner line = new StringJoiner(" | ", "    launches  ", System.lineSeparator());
        for (String role : roles) {
            StringJoiner images = new StringJoiner(", ", role + ": ", "");
            byRole.get(role).forEach((image, n) -> images.add(image + " " + n));
            line.add(images.toString());
        }
        return line.toString();
    }

    static String json(Object value) {
        try {
            return MAPPER.writeValueAsString(value);
        } catch (JsonProcessingException e) {
            throw new UncheckedIOException(e);
        }
    }

    static ObjectMapper mapper() {
        return MAPPER;
    }
}
