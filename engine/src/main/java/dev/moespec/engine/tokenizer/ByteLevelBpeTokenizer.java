package dev.moespec.engine.tokenizer;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A Hugging Face {@code tokenizer.json} with a {@code BPE} model over the byte-level alphabet: added (special)
 * tokens are matched first, the rest is UTF-8 encoded, mapped through {@link ByteLevelAlphabet}, split by the GPT-2
 * pattern when {@code use_regex} is on, and merged by rank. With no merges (the demo models) every byte is one
 * token. Our own implementation: no native library, nothing fetched.
 */
public final class ByteLevelBpeTokenizer implements Tokenizer {
    /** GPT-2's pre-tokenisation pattern ({@code ByteLevel} with {@code use_regex: true}). */
    private static final Pattern GPT2_SPLIT = Pattern.compile(
            "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+");

    private final Map<String, Integer> vocab;
    private final String[] idToToken;
    private final Map<String, Integer> mergeRanks;
    private final Map<String, Integer> added;
    private final Pattern addedPattern;
    private final boolean useRegex;
    private final boolean addPrefixSpace;
    private final int bos;
    private final int eos;

    private ByteLevelBpeTokenizer(Map<String, Integer> vocab, Map<String, Integer> mergeRanks, Map<String, Integer> added,
                                  boolean useRegex, boolean addPrefixSpace, int bos, int eos) {
        this.vocab = vocab;
        this.mergeRanks = mergeRanks;
        this.added = added;
        this.useRegex = useRegex;
        this.addPrefixSpace = addPrefixSpace;
        this.bos = bos;
        this.eos = eos;
        int size = 0;
        for (int id : vocab.values()) size = Math.max(size, id + 1);
        for (int id : added.values()) size = Math.max(size, id + 1);
        idToToken = new String[size];
        vocab.forEach((t, id) -> idToToken[id] = t);
        added.forEach((t, id) -> idToToken[id] = t);
        addedPattern = added.isEmpty() ? null : Pattern.compile(String.join("|",
                added.keySet().stream().sorted((a, b) -> b.length() - a.length()).map(Pattern::quote).toList()));
    }

    /**
     * Reads {@code dir/tokenizer.json}; BOS/EOS from {@code tokenizer_config.json}, else {@code bos_token_id} /
     * {@code eos_token_id} of {@code config.json}.
     */
    public static ByteLevelBpeTokenizer load(Path dir) {
        int bos = -1, eos = -1;
        Path config = dir.resolve("config.json");
        if (Files.isRegularFile(config)) {
            try {
                JsonNode c = new ObjectMapper().readTree(Files.readString(config));
                bos = c.path("bos_token_id").asInt(-1);
                eos = c.path("eos_token_id").isArray() ? c.path("eos_token_id").path(0).asInt(-1) : c.path("eos_token_id").asInt(-1);
            } catch (IOException e) {
                throw new TokenizerException("Cannot read " + config + ": " + e.getMessage(), e);
            }
        }
        return load(dir, bos, eos);
    }

    /**
     * Reads {@code dir/tokenizer.json}; BOS/EOS come from {@code dir/tokenizer_config.json} when present, else
     * {@code fallbackBos}/{@code fallbackEos} (the model config's ids).
     */
    public static ByteLevelBpeTokenizer load(Path dir, int fallbackBos, int fallbackEos) {
        Path file = dir.resolve("tokenizer.json");
        JsonNode root;
        try {
            root = new ObjectMapper().readTree(Files.readString(file));
        } catch (IOException e) {
            throw new TokenizerException("Cannot read " + file + ": " + e.getMessage()
                    + "; a checkpoint needs its Hugging Face tokenizer.json beside config.json", e);
        }
        JsonNode model = root.path("model");
        if (!"BPE".equals(model.path("type").asText())) {
            throw new TokenizerException(file + ": model.type '" + model.path("type").asText()
                    + "' is not supported; only byte-level BPE tokenizers are");
        }
        JsonNode pre = root.path("pre_tokenizer");
        boolean byteLevel = "ByteLevel".equals(pre.path("type").asText()) || "ByteLevel".equals(root.path("decoder").path("type").asText());
        if (!byteLevel) {
            throw new TokenizerException(file + ": pre_tokenizer/decoder is not ByteLevel; only byte-level BPE is supported");
        }
        Map<String, Integer> vocab = new LinkedHashMap<>();
        model.path("vocab").fields().forEachRemaining(e -> vocab.put(e.getKey(), e.getValue().asInt()));
        for (int b = 0; b < 256; b++) {
            if (!vocab.containsKey(String.valueOf(ByteLevelAlphabet.toChar(b)))) {
                throw new TokenizerException(file + ": model.vocab lacks the byte-level token for byte " + b
                        + "; the vocabulary is not byte-level");
            }
        }
        Map<String, Integer> ranks = new HashMap<>();
        JsonNode merges = model.path("merges");
        for (int i = 0; i < merges.size(); i++) {
            JsonNode m = merges.get(i);
            String pair = m.isArray() ? m.get(0).asText() + " " + m.get(1).asText() : m.asText();
            ranks.putIfAbsent(pair, i);
        }
        Map<String, Integer> added = new LinkedHashMap<>();
        root.path("added_tokens").forEach(t -> added.put(t.path("content").asText(), t.path("id").asInt()));
        int bos = fallbackBos, eos = fallbackEos;
        Path config = dir.resolve("tokenizer_config.json");
        if (Files.isRegularFile(config)) {
            try {
                JsonNode c = new ObjectMapper().readTree(Files.readString(config));
                bos = idOf(c.path("bos_token"), added, vocab, bos);
                eos = idOf(c.path("eos_token"), added, vocab, eos);
            } catch (IOException e) {
                throw new TokenizerException("Cannot read " + config + ": " + e.getMessage(), e);
            }
        }
        return new ByteLevelBpeTokenizer(vocab, ranks, added, pre.path("use_regex").asBoolean(true),
                pre.path("add_prefix_space").asBoolean(false), bos, eos);
    }

    private static int idOf(JsonNode token, Map<String, Integer> added, Map<String, Integer> vocab, int fallback) {
        String text = token.isObject() ? token.path("content").asText(null) : token.asText(null);
        if (text == null) return fallback;
        Integer id = added.getOrDefault(text, vocab.get(text));
        return id == null ? fallback : id;
    }

    @Override
    public int[] encode(String text) {
        List<Integer> ids = new ArrayList<>();
        int from = 0;
        if (addedPattern != null) {
            Matcher m = addedPattern.matcher(text);
            while (m.find()) {
                encodeOrdinary(text.substring(from, m.start()), ids, from == 0);
                ids.add(added.get(m.group()));
                from = m.end();
            }
        }
        encodeOrdinary(text.substring(from), ids, from == 0);
        return ids.stream().mapToInt(Integer::intValue).toArray();
    }

    private void encodeOrdinary(String text, List<Integer> out, boolean atStart) {
        if (text.isEmpty()) return;
        String s = addPrefixSpace && atStart && !text.startsWith(" ") ? " " + text : text;
        if (useRegex) {
            Matcher m = GPT2_SPLIT.matcher(s);
            while (m.find()) bpe(m.group(), out);
        } else {
            bpe(s, out);
        }
    }

    /** Byte-level symbols of {@code piece}, merged lowest rank first until no pair has a rank. */
    private void bpe(String piece, List<Integer> out) {
        byte[] bytes = piece.getBytes(StandardCharsets.UTF_8);
        List<String> symbols = new ArrayList<>(bytes.length);
        for (byte b : bytes) symbols.add(String.valueOf(ByteLevelAlphabet.toChar(b)));
        while (!mergeRanks.isEmpty() && symbols.size() > 1) {
            int best = -1, bestRank = Integer.MAX_VALUE;
            for (int i = 0; i + 1 < symbols.size(); i++) {
                Integer rank = mergeRanks.get(symbols.get(i) + " " + symbols.get(i + 1));
                if (rank != null && rank < bestRank) {
                    bestRank = rank;
                    best = i;
                }
            }
            if (best < 0) break;
            symbols.set(best, symbols.get(best) + symbols.remove(best + 1));
        }
        for (String sym : symbols) {
            Integer id = vocab.get(sym);
            if (id == null) throw new TokenizerException("merged symbol '" + sym + "' is not in the vocabulary;"
                    + " tokenizer.json's merges and vocab disagree");
            out.add(id);
        }
    }

    @Override
    public byte[] decodeBytes(int[] ids) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (int id : ids) {
            if (id < 0 || id >= idToToken.length || idToToken[id] == null) continue; // unused ids decode to nothing
            String token = idToToken[id];
            if (added.containsKey(token)) continue;
            for (int i = 0; i < token.length(); i++) {
                int b = ByteLevelAlphabet.toByte(token.charAt(i));
                if (b >= 0) out.write(b);
            }
        }
        return out.toByteArray();
    }

    @Override
    public int vocabSize() {
        return idToToken.length;
    }

    @Override
    public int bosId() {
        return bos;
    }

    @Override
    public int eosId() {
        return eos;
    }
}
