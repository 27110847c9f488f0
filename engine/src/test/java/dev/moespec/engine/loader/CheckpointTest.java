package dev.moespec.engine.loader;

import dev.moespec.api.config.ModelConfig;
import dev.moespec.api.tensor.DType;
import dev.moespec.api.tensor.HostTensors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class CheckpointTest {
    @TempDir
    Path tmp;

    private static Checkpoint open(Path dir) {
        return Checkpoint.open(dir, CheckpointLayout.of(ModelConfig.load(dir)));
    }

    @Test
    void demoTargetHasItsFp8TensorsAndScales() {
        try (Checkpoint c = open(DemoModels.target())) {
            assertEquals(439, c.names().size());
            var q = c.tensor("model.layers.0.self_attn.q_proj.weight");
            assertEquals(DType.FP8_E4M3, q.dtype());
            var s = c.tensor("model.layers.0.self_attn.q_proj.weight_scale_inv", 2, 2);
            assertEquals(DType.F32, s.dtype());
            assertTrue(HostTensors.get(s, 0) > 0f);
            // golden debug: embed row of the last prompt-0 token ('\n' = 10), first value
            assertEquals(-0.0849609f, HostTensors.get(c.tensor("model.embed_tokens.weight"), 10 * 256), 1e-6f);
        }
    }

    @Test
    void demoDraftIsBf16() {
        try (Checkpoint c = open(DemoModels.draft())) {
            assertEquals(36, c.names().size());
            assertEquals(DType.BF16, c.tensor("model.layers.0.mlp.experts.7.down_proj.weight").dtype());
        }
    }

    @Test
    void closingUnmaps() {
        Checkpoint c = open(DemoModels.draft());
        var t = c.tensor("model.norm.weight");
        c.close();
        assertThrows(IllegalStateException.class, () -> HostTensors.get(t, 0));
    }

    @Test
    void missingTensorIsNamed() throws Exception {
        Path dir = copyConfig(DemoModels.draft());
        try (Checkpoint src = Checkpoint.open(DemoModels.draft(), CheckpointLayout.ANY)) {
            SafetensorsWriter w = new SafetensorsWriter();
            for (String name : src.names()) {
                if (name.equals("model.layers.0.mlp.experts.3.up_proj.weight")) continue;
                var t = src.tensor(name);
                w.add(name, t.dtype(), t.data().toArray(java.lang.foreign.ValueLayout.JAVA_BYTE), t.shape());
            }
            w.write(dir.resolve("model.safetensors"));
        }
        var e = assertThrows(CheckpointException.class, () -> open(dir));
        assertEquals("model.layers.0.mlp.experts.3.up_proj.weight", e.tensor().orElseThrow());
        assertTrue(e.getMessage().contains("missing"), e.getMessage());
    }

    @Test
    void shardedCheckpointLoadsThroughItsIndex() throws Exception {
        Path dir = copyConfig(DemoModels.draft());
        StringBuilder map = new StringBuilder("{\"metadata\":{},\"weight_map\":{");
        try (Checkpoint src = Checkpoint.open(DemoModels.draft(), CheckpointLayout.ANY)) {
            SafetensorsWriter a = new SafetensorsWriter(), b = new SafetensorsWriter();
            int i = 0;
            for (String name : src.names()) {
                var t = src.tensor(name);
                String shard = i++ % 2 == 0 ? "model-00001-of-00002.safetensors" : "model-00002-of-00002.safetensors";
                (shard.contains("00001-") ? a : b).add(name, t.dtype(),
                        t.data().toArray(java.lang.foreign.ValueLayout.JAVA_BYTE), t.shape());
                map.append(i > 1 ? "," : "").append('"').append(name).append("\":\"").append(shard).append('"');
            }
            a.write(dir.resolve("model-00001-of-00002.safetensors"));
            b.write(dir.resolve("model-00002-of-00002.safetensors"));
        }
        Files.writeString(dir.resolve(Checkpoint.INDEX_FILE), map.append("}}"));
        try (Checkpoint c = open(dir); Checkpoint orig = open(DemoModels.draft())) {
            assertEquals(36, c.names().size());
            var x = c.tensor("lm_head.weight");
            var y = orig.tensor("lm_head.weight");
            assertEquals(HostTensors.get(y, 12345), HostTensors.get(x, 12345));
        }
        Files.delete(dir.resolve("model-00002-of-00002.safetensors"));
        var e = assertThrows(CheckpointException.class, () -> open(dir));
        assertTrue(e.getMessage().contains("model-00002-of-00002.safetensors"), e.getMessage());
    }

    @Test
    void wrongShapeAgainstConfigIsNamed() throws Exception {
        Path dir = copyConfig(DemoModels.draft());
        Files.writeString(dir.resolve("config.json"),
                Files.readString(dir.resolve("config.json")).replace("\"moe_intermediate_size\": 128", "\"moe_intermediate_size\": 96"));
        Files.copy(DemoModels.draft().resolve("model.safetensors"), dir.resolve("model.safetensors"));
        var e = assertThrows(CheckpointException.class, () -> open(dir));
        assertTrue(e.getMessage().contains("gate_proj") && e.getMessage().contains("[96, 256]"), e.getMessage());
    }

    private Path copyConfig(Path from) throws Exception {
        Path dir = Files.createDirectories(tmp.resolve("ckpt"));
        Files.copy(from.resolve("config.json"), dir.resolve("config.json"), StandardCopyOption.REPLACE_EXISTING);
        return dir;
    }
}
