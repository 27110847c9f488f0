package dev.moespec.engine.loader;

import dev.moespec.api.tensor.Tensor;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Map;

/**
 * One safetensors file, its header validated ({@link SafetensorsHeader}) and its bytes memory-mapped into an
 * {@link Arena} the caller owns: the mapping lives exactly as long as that arena.
 */
public final class SafetensorsFile {
    private final Path path;
    private final SafetensorsHeader header;
    private final MemorySegment data;

    private SafetensorsFile(Path path, SafetensorsHeader header, MemorySegment data) {
        this.path = path;
        this.header = header;
        this.data = data;
    }

    /**
     * Validates {@code path}'s header and maps the file into {@code arena}.
     *
     * @throws CheckpointException when the file is unreadable, truncated or its header is inconsistent
     */
    public static SafetensorsFile open(Path path, Arena arena) {
        try (FileChannel channel = FileChannel.open(path, StandardOpenOption.READ)) {
            long size = channel.size();
            ByteBuffer prefix = ByteBuffer.allocate(8);
            readFully(channel, prefix, 0);
            long n = SafetensorsHeader.declaredLength(path, prefix, size);
            ByteBuffer json = ByteBuffer.allocate((int) n);
            readFully(channel, json, 8);
            SafetensorsHeader header = SafetensorsHeader.parse(path, json.array(), size);
            // the data buffer alone is mapped: tensor offsets are relative to it
            MemorySegment data = channel.map(FileChannel.MapMode.READ_ONLY, 8 + n, size - 8 - n, arena);
            return new SafetensorsFile(path, header, data);
        } catch (IOException e) {
            throw new CheckpointException(path, null, "cannot read: " + e.getMessage() + "; check that the file exists"
                    + " and is readable", e);
        }
    }

    private static void readFully(FileChannel channel, ByteBuffer buffer, long position) throws IOException {
        long at = position;
        while (buffer.hasRemaining()) {
            int read = channel.read(buffer, at);
            if (read < 0) throw new IOException("unexpected end of file at byte " + at);
            at += read;
        }
    }

    public Path path() {
        return path;
    }

    public SafetensorsHeader header() {
        return header;
    }

    public Map<String, TensorEntry> entries() {
        return header.tensors();
    }

    /** A host tensor viewing {@code name}'s bytes in the mapping (no copy). */
    public Tensor tensor(String name) {
        TensorEntry e = header.tensors().get(name);
        if (e == null) {
            throw new CheckpointException(path, name, "no such tensor in this file");
        }
        return Tensor.host(e.dtype(), data.asSlice(e.begin(), e.end() - e.begin()), e.shape());
    }
}
