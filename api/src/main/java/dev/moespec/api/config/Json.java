package dev.moespec.api.config;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.StreamReadFeature;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.json.JsonMapper;

/** Strict JSON reading shared by the config.json loader and the --speculative-config parser. */
final class Json {
    private Json() {}

    // Duplicate keys and trailing garbage are almost always editing mistakes; reject them.
    private static final JsonMapper MAPPER = JsonMapper.builder()
            .enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION)
            .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
            .build();

    /**
     * Parses {@code text} as a JSON object.
     *
     * @param what    names the input in messages: "Invalid JSON in /m/config.json", "Malformed --speculative-config JSON"
     * @param fixHint appended to every message, e.g. "; fix the file"
     */
    static JsonNode readObject(String text, String what, String fixHint) {
        JsonNode node;
        try {
            node = MAPPER.readTree(text);
        } catch (JsonProcessingException e) {
            var loc = e.getLocation();
            String where = loc == null ? "" : " at line " + loc.getLineNr() + ", column " + loc.getColumnNr();
            throw new ConfigException(what + where + ": " + oneLine(e.getOriginalMessage()) + fixHint, e);
        }
        if (node == null || !node.isObject()) {
            String got = node == null || node.isMissingNode() ? "empty input" : "a JSON " + typeName(node);
            throw new ConfigException(what + ": expected a JSON object, got " + got + fixHint);
        }
        return node;
    }

    static String typeName(JsonNode node) {
        if (node.isIntegralNumber()) return "integer";
        if (node.isNumber()) return "number";
        if (node.isTextual()) return "string";
        if (node.isBoolean()) return "boolean";
        if (node.isArray()) return "array";
        if (node.isObject()) return "object";
        return "null";
    }

    private static String oneLine(String s) {
        return s == null ? "unreadable input" : s.replaceAll("\\s*\\R\\s*", " ").strip();
    }
}
