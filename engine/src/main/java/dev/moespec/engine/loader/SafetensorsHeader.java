package dev.moespec.engine.loader;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import dev.moespec.api.tensor.DType;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Parses and validates a safetensors header against the file it came from, before any tensor is touched: the
 * header length fits the file, the JSON is well-formed UTF-8 with no duplicate keys, every entry has a known
 * dtype, a non-negative shape and a byte range inside the data buffer that holds exactly {@code dtype × shape},
 * and no two ranges overlap. Every failure is a {@link CheckpointException} naming the file and the tensor.
 *
 * @param headerLength the JSON length N (the data buffer starts at {@code 8 + N})
 * @param tensors      entries by name, in header order
 * @param metadata     the {@code __metadata__} strings
 */
public record SafetensorsHeader(long headerLength, Map<String, TensorEntry> tensors, Map<String, String> metadata) {

    /** Headers above this are refused: real ones are kilobytes; the cap stops a corrupt length from allocating GBs. */
    public static final long MAX_HEADER_BYTES = 100L << 20;

    private static final ObjectMapper JSON = JsonMapper.builder()
            .enable(JsonParser.Feature.STRICT_DUPLICATE_DETECTION).build();

    public SafetensorsHeader {
        tensors = java.util.Collections.unmodifiableMap(new LinkedHashMap<>(tensors));
        metadata = Map.copyOf(metadata);
    }

    /** Reads the 8-byte length prefix; {@code prefix} must hold at least 8 bytes. */
    public static long declaredLength(Path file, ByteBuffer prefix, long fileSize) {
        if (fileSize < 8) {
            throw new CheckpointException(file, null, "file is " + fileSize + " bytes, shorter than the 8-byte safetensors"
                    + " header length; the file is truncated or not safetensors (re-download it)");
        }
        long n = prefix.order(ByteOrder.LITTLE_ENDIAN).getLong(0);
        if (n < 2 || n > MAX_HEADER_BYTES || n > fileSize - 8) {
            throw new CheckpointException(file, null, "header length " + Long.toUnsignedString(n) + " is impossible for a "
                    + fileSize + "-byte file (must be in [2, min(" + MAX_HEADER_BYTES + ", file size - 8)]); the file is"
                    + " corrupt, truncated or not safetensors (re-download it)");
        }
        return n;
    }

    /**
     * Parses {@code json} (the N header bytes) of a file of {@code fileSize} bytes.
     *
     * @throws CheckpointException on any inconsistency
     */
    public static SafetensorsHeader parse(Path file, byte[] json, long fileSize) {
        long dataSize = fileSize - 8 - json.length;
        String text;
        try {
            text = StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT).decode(ByteBuffer.wrap(json)).toString();
        } catch (CharacterCodingException e) {
            throw new CheckpointException(file, null, "header is not valid UTF-8; the file is corrupt (re-download it)", e);
        }
        JsonNode root;
        try {
            root = JSON.readTree(text);
        } catch (JsonProcessingException e) {
            throw new CheckpointException(file, null, "header is not well-formed JSON (" + e.getOriginalMessage()
                    + "); the file is corrupt or truncated (re-download it)", e);
        }
        if (root == null || !root.isObject()) {
            throw new CheckpointException(file, null, "header must be a JSON object of tensor entries; the file is corrupt");
        }
        Map<String, TensorEntry> tensors = new LinkedHashMap<>();
        Map<String, String> metadata = new LinkedHashMap<>();
        for (Iterator<Map.Entry<String, JsonNode>> it = root.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> field = it.next();
            if (field.getKey().equals("__metadata__")) {
                metadata.putAll(metadata(file, field.getValue()));
            } else {
                tensors.put(field.getKey(), entry(file, field.getKey(), field.getValue(), dataSize));
            }
        }
        checkNoOverlap(file, tensors.values());
        return new SafetensorsHeader(json.length, tensors, metadata);
    }

    private static Map<String, String> metadata(Path file, JsonNode node) {
        if (!node.isObject()) {
            throw new CheckpointException(file, null, "__metadata__ must be an object of strings; the file is corrupt");
        }
        Map<String, String> out = new LinkedHashMap<>();
        node.fields().forEachRemaining(e -> {
            if (!e.getValue().isTextual()) {
                throw new CheckpointException(file, null, "__metadata__." + e.getKey() + " must be a string; the file is corrupt");
            }
            out.put(e.getKey(), e.getValue().asText());
        });
        return out;
    }

    private static TensorEntry entry(Path file, String name, JsonNode node, long dataSize) {
        if (!node.isObject()) {
            throw bad(file, name, "entry must be an object with dtype, shape and data_offsets");
        }
        JsonNode dtypeNode = node.get("dtype"), shapeNode = node.get("shape"), offsets = node.get("data_offsets");
        if (dtypeNode == null || !dtypeNode.isTextual()) throw bad(file, name, "entry has no string 'dtype'");
        DType dtype = dtype(file, name, dtypeNode.asText());
        if (shapeNode == null || !shapeNode.isArray()) throw bad(file, name, "entry has no 'shape' array");
        long[] shape = new long[shapeNode.size()];
        for (int i = 0; i < shape.length; i++) {
            JsonNode d = shapeNode.get(i);
            if (!d.isIntegralNumber() || !d.canConvertToLong() || d.asLong() < 0) {
                throw bad(file, name, "shape " + shapeNode + " must hold non-negative integers");
            }
            shape[i] = d.asLong();
        }
        if (offsets == null || !offsets.isArray() || offsets.size() != 2 || !offsets.get(0).isIntegralNumber()
                || !offsets.get(1).isIntegralNumber() || !offsets.get(0).canConvertToLong() || !offsets.get(1).canConvertToLong()) {
            throw bad(file, name, "entry needs 'data_offsets': [begin, end] as integers");
        }
        long begin = offsets.get(0).asLong(), end = offsets.get(1).asLong();
        if (begin < 0 || end < begin || end > dataSize) {
            throw bad(file, name, "data_offsets [" + begin + ", " + end + "] fall outside the " + dataSize
                    + "-byte data buffer; the file is truncated or corrupt (re-download it)");
        }
        long bytes;
        try {
            long n = 1;
            for (long d : shape) n = Math.multiplyExact(n, d);
            bytes = Math.multiplyExact(n, dtype.byteSize());
        } catch (ArithmeticException e) {
            throw bad(file, name, "shape " + shapeNode + " is too large");
        }
        if (bytes != end - begin) {
            throw bad(file, name, dtype.name() + shapeNode + " needs " + bytes + " bytes but data_offsets [" + begin + ", " + end
                    + "] hold " + (end - begin) + "; the header is corrupt (re-download the file)");
        }
        return new TensorEntry(name, dtype, shape, begin, end);
    }

    private static DType dtype(Path file, String name, String text) {
        return switch (text) {
            case "BF16" -> DType.BF16;
            case "F16" -> DType.F16;
            case "F32" -> DType.F32;
            case "F8_E4M3" -> DType.FP8_E4M3;
            case "I32" -> DType.I32;
            case "I64" -> DType.I64;
            case "U8" -> DType.U8;
            default -> throw bad(file, name, "dtype '" + text + "' is not supported; supported: BF16, F16, F32, F8_E4M3"
                    + " (and I32, I64, U8 for integer tensors)");
        };
    }

    private static void checkNoOverlap(Path file, Iterable<TensorEntry> entries) {
        List<TensorEntry> sorted = new ArrayList<>();
        entries.forEach(e -> { if (e.end() > e.begin()) sorted.add(e); });
        sorted.sort(Comparator.comparingLong(TensorEntry::begin));
        for (int i = 1; i < sorted.size(); i++) {
            TensorEntry prev = sorted.get(i - 1), cur = sorted.get(i);
            if (cur.begin() < prev.end()) {
                throw bad(file, cur.name(), "bytes [" + cur.begin() + ", " + cur.end() + ") overlap tensor '" + prev.name()
                        + "' [" + prev.begin() + ", " + prev.end() + "); the header is corrupt (re-download the file)");
            }
        }
    }

    private static CheckpointException bad(Path file, String name, String message) {
        return new CheckpointException(file, name, message);
    }
}
