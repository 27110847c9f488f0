package dev.moespec.api.config;

import com.fasterxml.jackson.databind.JsonNode;

import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.OptionalDouble;
import java.util.OptionalInt;

/**
 * Typed access to the fields of one JSON object. A JSON {@code null} counts as absent (HF configs write
 * {@code "rope_scaling": null}); a value of the wrong type is an error naming the key and the expected type.
 */
final class JsonFields {
    private final JsonNode node;
    private final String where;

    /** @param where names the object in messages: "/m/config.json", "--speculative-config" */
    JsonFields(JsonNode node, String where) {
        this.node = node;
        this.where = where;
    }

    boolean has(String key) {
        return node.hasNonNull(key);
    }

    OptionalInt optInt(String key) {
        JsonNode v = node.get(key);
        if (v == null || v.isNull()) return OptionalInt.empty();
        if (!v.isIntegralNumber() || !v.canConvertToInt()) throw typeError(key, "an integer", v);
        return OptionalInt.of(v.intValue());
    }

    OptionalDouble optDouble(String key) {
        JsonNode v = node.get(key);
        if (v == null || v.isNull()) return OptionalDouble.empty();
        if (!v.isNumber()) throw typeError(key, "a number", v);
        return OptionalDouble.of(v.doubleValue());
    }

    Optional<String> optString(String key) {
        JsonNode v = node.get(key);
        if (v == null || v.isNull()) return Optional.empty();
        if (!v.isTextual()) throw typeError(key, "a string", v);
        return Optional.of(v.textValue());
    }

    Optional<Boolean> optBool(String key) {
        JsonNode v = node.get(key);
        if (v == null || v.isNull()) return Optional.empty();
        if (!v.isBoolean()) throw typeError(key, "true or false", v);
        return Optional.of(v.booleanValue());
    }

    Optional<JsonFields> optObject(String key) {
        JsonNode v = node.get(key);
        if (v == null || v.isNull()) return Optional.empty();
        if (!v.isObject()) throw typeError(key, "an object", v);
        return Optional.of(new JsonFields(v, "'" + key + "' of " + where));
    }

    List<Integer> intList(String key) {
        List<Integer> out = new ArrayList<>();
        for (JsonNode e : array(key, "a list of integers")) {
            if (!e.isIntegralNumber() || !e.canConvertToInt()) throw typeError(key, "a list of integers", node.get(key));
            out.add(e.intValue());
        }
        return List.copyOf(out);
    }

    List<String> stringList(String key) {
        List<String> out = new ArrayList<>();
        for (JsonNode e : array(key, "a list of strings")) {
            if (!e.isTextual()) throw typeError(key, "a list of strings", node.get(key));
            out.add(e.textValue());
        }
        return List.copyOf(out);
    }

    private Iterable<JsonNode> array(String key, String expected) {
        JsonNode v = node.get(key);
        if (v == null || v.isNull()) return List.of();
        if (!v.isArray()) throw typeError(key, expected, v);
        return v;
    }

    ConfigException typeError(String key, String expected, JsonNode got) {
        String shown = got.toString();
        if (shown.length() > 40) shown = shown.substring(0, 37) + "...";
        return new ConfigException("'" + key + "' in " + where + " must be " + expected + ", got " + shown
                + " (" + Json.typeName(got) + "); fix the value");
    }
}
