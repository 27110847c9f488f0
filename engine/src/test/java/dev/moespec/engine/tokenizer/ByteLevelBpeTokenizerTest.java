package dev.moespec.engine.tokenizer;

import dev.moespec.engine.loader.DemoModels;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ByteLevelBpeTokenizerTest {
    private static final Tokenizer DEMO = ByteLevelBpeTokenizer.load(DemoModels.target(), 0, 0);

    @Test
    void demoTokenIdsAreTheUtf8Bytes() {
        String text = "class Queue:\n    def __init__(self) -> \"é€\"\u0000\t";
        byte[] utf8 = text.getBytes(StandardCharsets.UTF_8);
        int[] ids = DEMO.encode(text);
        assertEquals(utf8.length, ids.length);
        for (int i = 0; i < ids.length; i++) assertEquals(utf8[i] & 0xFF, ids[i]);
        assertEquals(text, DEMO.decode(ids));
        assertEquals(256, DEMO.bosId());
        assertEquals(256, DEMO.eosId());
        assertEquals(257, DEMO.vocabSize());
    }

    @Test
    void specialTokenIsMatchedAndDecodesToNothing() {
        assertArrayEquals(new int[]{'a', 256, 'b'}, DEMO.encode("a<|endoftext|>b"));
        assertEquals("ab", DEMO.decode(new int[]{'a', 256, 300, 'b'}));
    }

    @Test
    void mergesApplyByRank(@TempDir Path dir) throws Exception {
        StringBuilder vocab = new StringBuilder();
        for (int b = 0; b < 256; b++) {
            String c = String.valueOf(ByteLevelAlphabet.toChar(b));
            vocab.append(b == 0 ? "" : ",").append('"').append(c.equals("\"") ? "\\\"" : c.equals("\\") ? "\\\\" : c)
                    .append("\":").append(b);
        }
        // "Ġ" is the space byte; merges: "a b" (rank 0) then "ab c" (rank 1), "Ġ a" (rank 2)
        vocab.append(",\"ab\":256,\"abc\":257,\"Ġa\":258");
        Files.writeString(dir.resolve("tokenizer.json"), """
                {"added_tokens":[{"id":259,"content":"<s>","special":true}],
                 "pre_tokenizer":{"type":"ByteLevel","add_prefix_space":false,"use_regex":true},
                 "decoder":{"type":"ByteLevel"},
                 "model":{"type":"BPE","vocab":{%s},"merges":["a b","ab c","Ġ a"]}}
                """.formatted(vocab));
        Tokenizer t = ByteLevelBpeTokenizer.load(dir, 259, 259);
        // " ab": "a b" outranks "Ġ a", so the space stays alone; " a" alone merges into "Ġa"
        assertArrayEquals(new int[]{257, 32, 256, 259, 'c', 'a', 258}, t.encode("abc ab<s>ca a"));
        assertEquals("abc abca a", t.decode(t.encode("abc ab<s>ca a")));
    }

    @Test
    void nonByteLevelVocabularyIsRefused(@TempDir Path dir) throws Exception {
        Files.writeString(dir.resolve("tokenizer.json"),
                "{\"pre_tokenizer\":{\"type\":\"ByteLevel\"},\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0},\"merges\":[]}}");
        var e = assertThrows(TokenizerException.class, () -> ByteLevelBpeTokenizer.load(dir, 0, 0));
        assertTrue(e.getMessage().contains("byte 0"), e.getMessage());
    }

    @Test
    void streamDecoderHoldsBackSplitCharacters() {
        Utf8StreamDecoder d = new Utf8StreamDecoder(DEMO);
        byte[] euro = "€".getBytes(StandardCharsets.UTF_8);
        assertEquals("x", d.accept('x'));
        assertEquals("", d.accept(euro[0] & 0xFF));
        assertEquals("", d.accept(euro[1] & 0xFF));
        assertEquals("€", d.accept(euro[2] & 0xFF));
        assertEquals("", d.accept(0xC3));
        assertEquals("\uFFFD", d.flush());
    }
}
