package dev.moespec.engine.loader;

import dev.moespec.api.tensor.DType;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

/** Writes small safetensors files for tests (header padded to 8 bytes, tensors in insertion order). */
public final class SafetensorsWriter {
    private final Map<String, Object[]> tensors = new LinkedHashMap<>();

    public SafetensorsWriter add(String name, DType dtype, byte[] data, long... shape) {
        tensors.put(name, new Object[]{dtype, data, shape});
        return this;
    }

    /** F32 values stored as {@code dtype} (BF16 truncated by rounding, F32 as is). */
    public SafetensorsWriter addFloats(String name, DType dtype, float[] values, long... shape) {
        ByteBuffer b = ByteBuffer.allocate(values.length * dtype.byteSize()).order(ByteOrder.LITTLE_ENDIAN);
        for (float v : values) {
            switch (dtype) {
                case F32 -> b.putFloat(v);
                case BF16 -> b.putShort(dev.moespec.api.tensor.HostTensors.floatToBf16(v));
                case F16 -> b.putShort(Float.floatToFloat16(v));
                case FP8_E4M3 -> b.put(dev.moespec.api.tensor.HostTensors.floatToE4m3(v));
                default -> throw new IllegalArgumentException(dtype.name());
            }
        }
        return add(name, dtype, b.array(), shape);
    }

    public byte[] bytes() {
        StringBuilder json = new StringBuilder("{\"__metadata__\":{\"format\":\"pt\"}");
        long offset = 0;
        ByteArrayOutputStream data = new ByteArrayOutputStream();
        for (var e : tensors.entrySet()) {
            DType dtype = (DType) e.getValue()[0];
            byte[] bytes = (byte[]) e.getValue()[1];
            long[] shape = (long[]) e.getValue()[2];
            String name = dtype == DType.FP8_E4M3 ? "F8_E4M3" : dtype.name();
            json.append(",\"").append(e.getKey()).append("\":{\"dtype\":\"").append(name).append("\",\"shape\":")
                    .append(java.util.Arrays.toString(shape).replace(" ", "")).append(",\"data_offsets\":[")
                    .append(offset).append(',').append(offset + bytes.length).append("]}");
            offset += bytes.length;
            data.writeBytes(bytes);
        }
        json.append('}');
        while (json.length() % 8 != 0) json.append(' ');
        byte[] header = json.toString().getBytes(StandardCharsets.UTF_8);
        ByteBuffer out = ByteBuffer.allocate(8 + header.length + data.size()).order(ByteOrder.LITTLE_ENDIAN);
        out.putLong(header.length).put(header).put(data.toByteArray());
        return out.array();
    }

    public Path write(Path file) throws IOException {
        Files.write(file, bytes());
        return file;
    }
}
