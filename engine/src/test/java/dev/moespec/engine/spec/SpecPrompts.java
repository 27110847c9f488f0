package dev.moespec.engine.spec;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.moespec.api.config.EngineConfig;
import dev.moespec.api.config.ModelConfig;
import dev.moespec.api.device.DeviceInfo;
import dev.moespec.engine.loader.DemoModels;
import dev.moespec.engine.sampling.SamplingParams;
import dev.moespec.engine.wiring.Engine;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.List;

/**
 * The benchmark prompts of models/spec-prompts.jsonl and engines over the demo family. A prompt is its 128 raw byte
 * tokens as stored ("no BOS": they are cut from the middle of files, as eval.json's 128-token prompts were), unless
 * {@code -Dmoespec.spec.bos=true} prepends BOS.
 */
final class SpecPrompts {
    static final long KV = 16L << 20;
    static final int BOS = 256;

    private SpecPrompts() {}

    static List<int[]> load(int count) {
        try {
            ObjectMapper json = new ObjectMapper();
            List<int[]> prompts = new ArrayList<>();
            for (String line : Files.readAllLines(DemoModels.dir().resolve("spec-prompts.jsonl"))) {
                if (line.isBlank() || prompts.size() == count) continue;
                int[] ids = json.convertValue(json.readTree(line).get("ids"), int[].class);
                if (!Boolean.getBoolean("moespec.spec.bos")) {
                    prompts.add(ids);
                    continue;
                }
                int[] p = new int[ids.length + 1];
                p[0] = BOS;
                System.arraycopy(ids, 0, p, 1, ids.length);
                prompts.add(p);
            }
            return prompts;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** {@code prompts} through the session's generator (BOS as EOS) in batches of {@code batch}, in order. */
    static List<SpecGenerationResult> inBatches(SpecDecodeSession session, List<int[]> prompts, int batch,
                                                SamplingParams params) {
        List<SpecGenerationResult> results = new ArrayList<>();
        for (int from = 0; from < prompts.size(); from += batch) {
            results.add(session.generator(BOS).generate(prompts.subList(from, Math.min(prompts.size(), from + batch)), params,
                    BatchListener.NONE));
        }
        return results;
    }

    /** The speculative config of {@code method} with {@code k} on the demo family ({@code null} = none). */
    static String config(String method, int k) {
        if (method == null) return null;
        String model = switch (method) {
            case "draft_model" -> ",\"model\":\"demo-draft\"";
            case "eagle" -> ",\"model\":\"demo-eagle\"";
            case "medusa" -> ",\"model\":\"demo-medusa\"";
            // eval.json's prompt lookup: the longest suffix n-gram with n = 5..2 (FORMAT.md §5.5)
            case "ngram" -> ",\"prompt_lookup_min\":2,\"prompt_lookup_max\":5";
            default -> "";
        };
        return "{\"method\":\"" + method + "\",\"num_speculative_tokens\":" + k + model + "}";
    }

    static Engine engine(String method, int k) {
        EngineConfig config = EngineConfig.builder(ModelConfig.load(DemoModels.target()))
                .speculativeConfigJson(config(method, k)).build();
        return Engine.build(config, DeviceInfo.cpu("test"), SpecPrompts.class.getClassLoader());
    }

    /**
     * An engine on the first CUDA device: the target's MoE on {@code targetBackend}, the speculative config of
     * {@code method} × {@code k} with {@code "moe_backend": draftBackend} (null = inherit).
     */
    static Engine gpuEngine(String method, int k, String targetBackend, String draftBackend) {
        return gpuEngine(method, k, targetBackend, draftBackend, 0);
    }

    /** {@link #gpuEngine(String, int, String, String)} with {@code "sibling_drafts": siblings} when it is not 0. */
    static Engine gpuEngine(String method, int k, String targetBackend, String draftBackend, int siblings) {
        String spec = config(method, k);
        if (spec != null && draftBackend != null) {
            spec = spec.substring(0, spec.length() - 1) + ",\"moe_backend\":\"" + draftBackend + "\"}";
        }
        if (spec != null && siblings != 0) {
            spec = spec.substring(0, spec.length() - 1) + ",\"sibling_drafts\":" + siblings + "}";
        }
        EngineConfig config = EngineConfig.builder(ModelConfig.load(DemoModels.target())).moeBackend(targetBackend)
                .speculativeConfigJson(spec).build();
        return Engine.build(config, dev.moespec.cuda.Cuda.detectDevice(), SpecPrompts.class.getClassLoader());
    }

    /** eval.json's mean_accepted for method × k. */
    static double evalMeanAccepted(String method, int k) {
        try {
            JsonNode eval = new ObjectMapper().readTree(Files.readString(DemoModels.dir().resolve("eval.json")));
            for (JsonNode r : eval.path("spec_decode").path("results")) {
                if (r.path("method").asText().equals(method) && r.path("k").asInt() == k) return r.path("mean_accepted").asDouble();
            }
            throw new IllegalArgumentException("eval.json has no result for " + method + " k=" + k);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
