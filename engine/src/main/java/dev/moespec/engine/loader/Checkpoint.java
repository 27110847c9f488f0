package dev.moespec.engine.loader;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.moespec.api.config.ModelConfig;
import dev.moespec.api.tensor.Tensor;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Stream;

/**
 * A Hugging Face checkpoint directory opened for reading: {@code config.json} plus one {@code model.safetensors}
 * or the shards listed in {@code model.safetensors.index.json}, every header validated and every file memory-mapped
 * into one arena owned by this object. Closing it unmaps the files; tensors obtained from it must not be used after.
 */
public final class Checkpoint implements AutoCloseable {
    public static final String SINGLE_FILE = "model.safetensors";
    public static final String INDEX_FILE = "model.safetensors.index.json";

    private final ModelConfig config;
    private final Arena arena;
    private final Map<String, SafetensorsFile> byTensor;

    private Checkpoint(ModelConfig config, Arena arena, Map<String, SafetensorsFile> byTensor) {
        this.config = config;
        this.arena = arena;
        this.byTensor = Collections.unmodifiableMap(byTensor);
    }

    /**
     * Opens {@code dir}, validates every header and checks that the tensors {@code layout} requires are present with
     * the right shapes.
     *
     * @throws CheckpointException naming the file and tensor at fault
     * @throws dev.moespec.api.config.ConfigException when config.json is missing or malformed
     */
    public static Checkpoint open(Path dir, CheckpointLayout layout) {
        ModelConfig config = ModelConfig.load(dir);
        Arena arena = Arena.ofShared();
        try {
            Map<String, SafetensorsFile> byTensor = new LinkedHashMap<>();
            for (Path file : shardFiles(config.path())) {
                SafetensorsFile st = SafetensorsFile.open(file, arena);
                for (String name : st.entries().keySet()) {
                    SafetensorsFile previous = byTensor.put(name, st);
                    if (previous != null) {
                        throw new CheckpointException(file, name, "tensor also appears in " + previous.path()
                                + "; a tensor must live in exactly one shard (re-download the checkpoint)");
                    }
                }
            }
            Checkpoint checkpoint = new Checkpoint(config, arena, byTensor);
            layout.validate(checkpoint);
            return checkpoint;
        } catch (RuntimeException e) {
            arena.close();
            throw e;
        }
    }

    /** The shard files: those the index names (in order, deduplicated), else {@code model.safetensors}. */
    static List<Path> shardFiles(Path dir) {
        Path index = dir.resolve(INDEX_FILE);
        if (Files.isRegularFile(index)) {
            JsonNode root;
            try {
                root = new ObjectMapper().readTree(Files.readString(index));
            } catch (IOException e) {
                throw new CheckpointException(index, null, "cannot read or parse the shard index: " + e.getMessage()
                        + "; fix or re-download it", e);
            }
            JsonNode map = root == null ? null : root.get("weight_map");
            if (map == null || !map.isObject() || map.isEmpty()) {
                throw new CheckpointException(index, null, "has no non-empty 'weight_map' object; re-download it");
            }
            Set<String> names = new TreeSet<>();
            map.fields().forEachRemaining(e -> {
                if (!e.getValue().isTextual() || e.getValue().asText().contains("/") || e.getValue().asText().contains("\\")) {
                    throw new CheckpointException(index, e.getKey(), "weight_map value must be a file name in " + dir);
                }
                names.add(e.getValue().asText());
            });
            List<Path> files = names.stream().map(dir::resolve).toList();
            for (Path f : files) {
                if (!Files.isRegularFile(f)) {
                    throw new CheckpointException(f, null, "listed in " + INDEX_FILE + " but missing; download every shard");
                }
            }
            return files;
        }
        Path single = dir.resolve(SINGLE_FILE);
        if (Files.isRegularFile(single)) return List.of(single);
        try (Stream<Path> list = Files.list(dir)) {
            List<Path> any = list.filter(p -> p.getFileName().toString().endsWith(".safetensors")).sorted().toList();
            if (!any.isEmpty()) return any;
        } catch (IOException e) {
            throw new CheckpointException(dir, null, "cannot list the directory: " + e.getMessage(), e);
        }
        throw new CheckpointException(dir, null, "no " + SINGLE_FILE + ", " + INDEX_FILE + " or *.safetensors file;"
                + " a Hugging Face checkpoint needs its weights beside config.json");
    }

    public ModelConfig config() {
        return config;
    }

    /** Every tensor name, in file order. */
    public Set<String> names() {
        return byTensor.keySet();
    }

    public boolean has(String name) {
        return byTensor.containsKey(name);
    }

    /** The file that holds {@code name}, or the checkpoint's config file when none does (for error messages). */
    public Path fileOf(String name) {
        SafetensorsFile f = byTensor.get(name);
        return f == null ? config.path() : f.path();
    }

    public Optional<TensorEntry> entry(String name) {
        return Optional.ofNullable(byTensor.get(name)).map(f -> f.entries().get(name));
    }

    /** A zero-copy host view of {@code name}. */
    public Tensor tensor(String name) {
        SafetensorsFile f = byTensor.get(name);
        if (f == null) {
            throw new CheckpointException(config.path(), name, "missing from every safetensors file of the checkpoint;"
                    + " the checkpoint is incomplete or of another architecture");
        }
        return f.tensor(name);
    }

    /**
     * {@code name}, required to have {@code shape} (any dtype).
     *
     * @throws CheckpointException when it is missing or has another shape
     */
    public Tensor tensor(String name, long... shape) {
        Tensor t = tensor(name);
        if (!Arrays.equals(t.shape(), shape)) {
            throw new CheckpointException(fileOf(name), name, "has shape " + Arrays.toString(t.shape()) + " but "
                    + config.configFile() + " implies " + Arrays.toString(shape) + "; the weights do not match the config");
        }
        return t;
    }

    /** Unmaps every file. Idempotent. */
    @Override
    public void close() {
        if (arena.scope().isAlive()) arena.close();
    }
}
