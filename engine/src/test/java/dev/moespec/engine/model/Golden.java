package dev.moespec.engine.model;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.moespec.engine.loader.DemoModels;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;

/** {@code models/golden.json}. */
final class Golden {
    static final JsonNode ROOT;

    static {
        try {
            ROOT = new ObjectMapper().readTree(Files.readString(DemoModels.dir().resolve("golden.json")));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private Golden() {}

    static JsonNode prompt(int i) {
        return ROOT.path("prompts").get(i);
    }

    static int[] ints(JsonNode array) {
        int[] out = new int[array.size()];
        for (int i = 0; i < out.length; i++) out[i] = array.get(i).asInt();
        return out;
    }

    static float[] floats(JsonNode array) {
        float[] out = new float[array.size()];
        for (int i = 0; i < out.length; i++) out[i] = (float) array.get(i).asDouble();
        return out;
    }

    static int argmax(float[] v) {
        int best = 0;
        for (int i = 1; i < v.length; i++) if (v[i] > v[best]) best = i;
        return best;
    }
}
