package dev.moespec.backend.flashinfer;

import dev.moespec.api.config.ModelRole;
import dev.moespec.api.config.QuantScheme;
import dev.moespec.api.device.DeviceInfo;
import dev.moespec.api.tensor.DType;
import dev.moespec.api.tensor.Tensor;
import dev.moespec.cuda.Cuda;
import dev.moespec.cuda.CudaContext;
import dev.moespec.cuda.CudaEvent;
import dev.moespec.cuda.CudaStream;
import dev.moespec.cuda.DeviceBuffer;
import dev.moespec.moe.KernelContext;
import dev.moespec.moe.MoeLayerSpec;
import dev.moespec.moe.Routing;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * Times flashinfer_trtllm on the anchor shapes and token counts ({@code anchors/peer_vllm_triton_fused_moe_*_h100.md})
 * and prints µs next to the peer's. {@code experts_us} is the number to compare with the peer's {@code peer_us} (both
 * exclude routing/alignment); {@code route_us} is our routing + permutation. Median of CUDA-event timings, the L2
 * flushed (a 256 MiB memset) before each repetition.
 *
 * <p>Usage: {@code FlashInferMoeTuning [anchorsDir] [shape,...] [fp8block|fp8|both] [reps]}.
 */
public final class FlashInferMoeTuning {

    record Shape(String name, int e, int topk, int h, int i) {}

    static final List<Shape> SHAPES = List.of(new Shape("mixtral", 8, 2, 4096, 14336), new Shape("qwen3-30b-a3b", 128, 8, 2048, 768),
            new Shape("deepseek-v2-lite", 64, 6, 2048, 1408), new Shape("small", 8, 2, 1024, 2816));
    static final int[] TOKENS = {1, 4, 16, 64, 256, 1024, 4096};

    public static void main(String[] args) throws Exception {
        Path anchors = Path.of(args.length > 0 ? args[0] : "anchors");
        List<String> only = args.length > 1 && !args[1].equals("all") ? Arrays.asList(args[1].split(",")) : null;
        String which = args.length > 2 ? args[2] : "both";
        int reps = args.length > 3 ? Integer.parseInt(args[3]) : 30;
        Map<String, Double> peer = new HashMap<>();
        readPeer(anchors.resolve("peer_vllm_triton_fused_moe_fp8block_h100.md"), peer);
        readPeer(anchors.resolve("peer_vllm_triton_fused_moe_h100.md"), peer);
        DeviceInfo device = Cuda.detectDevice();
        System.out.println("device: " + device.describe());
        List<String> table = new ArrayList<>();
        table.add("| shape | quant | M | bm | route_us | experts_us | peer fp8block_us | x vs fp8block | peer fp8_us | x vs fp8 | TFLOP/s |");
        table.add("|---|---|---|---|---|---|---|---|---|---|---|");
        try (CudaContext ctx = CudaContext.open(device.ordinal()); CudaStream stream = CudaStream.create(ctx);
             DeviceBuffer flush = DeviceBuffer.alloc(ctx, 256L << 20);
             CudaEvent start = CudaEvent.create(ctx); CudaEvent mid = CudaEvent.create(ctx); CudaEvent end = CudaEvent.create(ctx)) {
            for (Shape s : SHAPES) {
                if (only != null && !only.contains(s.name())) continue;
                for (QuantScheme q : List.of(QuantScheme.FP8_BLOCK_128, QuantScheme.FP8_PER_TENSOR)) {
                    if (which.equals("fp8block") && q != QuantScheme.FP8_BLOCK_128) continue;
                    if (which.equals("fp8") && q != QuantScheme.FP8_PER_TENSOR) continue;
                    MoeLayerSpec layer = new MoeLayerSpec(s.e(), s.topk(), s.h(), s.i(), MoeLayerSpec.Activation.SILU,
                            new Routing.SoftmaxTopK(true), q, TOKENS[TOKENS.length - 1]);
                    try (Arena arena = Arena.ofConfined();
                         var kernel = (FlashInferTrtllmMoeKernel) new FlashInferTrtllmMoeBackendProvider()
                                 .create(layer, new KernelContext(ModelRole.TARGET, device, false))) {
                        kernel.loadWeights(Fp8TestWeights.random(arena, layer, 1));
                        int mMax = layer.maxTokens();
                        DeviceBuffer hidden = DeviceBuffer.alloc(ctx, 2L * mMax * s.h());
                        DeviceBuffer logits = DeviceBuffer.alloc(ctx, 4L * mMax * s.e());
                        DeviceBuffer out = DeviceBuffer.alloc(ctx, 2L * mMax * s.h());
                        hidden.copyFrom(randomBf16(arena, (long) mMax * s.h()));
                        logits.copyFrom(randomF32(arena, (long) mMax * s.e()));
                        for (int m : TOKENS) {
                            Tensor h = hidden.asTensor(DType.BF16, m, s.h()), l = logits.asTensor(DType.F32, m, s.e()),
                                    o = out.asTensor(DType.BF16, m, s.h());
                            for (int w = 0; w < 3; w++) kernel.forward(h, l, o, stream.handle());
                            stream.synchronize();
                            double[] route = new double[reps], experts = new double[reps];
                            for (int r = 0; r < reps; r++) {
                                flush.fill((byte) r);
                                start.record(stream);
                                kernel.route(l, stream.handle());
                                mid.record(stream);
                                kernel.experts(h, o, stream.handle());
                                end.record(stream);
                                experts[r] = 1000 * CudaEvent.elapsedMillis(mid, end);
                                route[r] = 1000 * CudaEvent.elapsedMillis(start, mid);
                            }
                            checkFinite(ctx, out, (long) m * s.h());
                            double ex = median(experts), ro = median(route);
                            String tag = q == QuantScheme.FP8_BLOCK_128 ? "fp8block" : "fp8";
                            Double pb = peer.get(s.name() + "|fp8block|" + m), pt = peer.get(s.name() + "|fp8|" + m);
                            double tflops = 2.0 * m * s.topk() * (3.0 * s.h() * s.i()) / (ex * 1e-6) / 1e12;
                            int bm = LaunchPlan.of(layer, m, device.multiprocessors(), kernel.usesWgmma()).bm();
                            table.add(String.format(Locale.ROOT, "| %s | %s | %d | %d | %.1f | %.1f | %s | %s | %s | %s | %.1f |", s.name(), tag, m, bm,
                                    ro, ex, fmt(pb), ratio(pb, ex), fmt(pt), ratio(pt, ex), tflops));
                            System.out.println(table.getLast());
                        }
                        hidden.close();
                        logits.close();
                        out.close();
                    }
                }
            }
        }
        System.out.println();
        table.forEach(System.out::println);
        System.out.println("x = peer_us / experts_us (above 1: faster than the peer). experts_us excludes routing, like peer_us.");
    }

    private static void checkFinite(CudaContext ctx, DeviceBuffer out, long n) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment host = a.allocate(2 * n);
            out.copyTo(host.asSlice(0, 2 * n));
            for (long x = 0; x < n; x++) {
                short bits = host.getAtIndex(ValueLayout.JAVA_SHORT, x);
                if ((bits & 0x7f80) == 0x7f80) throw new IllegalStateException("non-finite output at " + x);
            }
        }
    }

    private static MemorySegment randomBf16(Arena arena, long n) {
        SplittableRandom r = new SplittableRandom(3);
        MemorySegment seg = arena.allocate(2 * n);
        for (long x = 0; x < n; x++) {
            float v = (float) Fp8TestWeights.gauss(r);
            seg.setAtIndex(ValueLayout.JAVA_SHORT, x, (short) (Float.floatToRawIntBits(v) >>> 16));
        }
        return seg;
    }

    private static MemorySegment randomF32(Arena arena, long n) {
        SplittableRandom r = new SplittableRandom(4);
        MemorySegment seg = arena.allocate(4 * n);
        for (long x = 0; x < n; x++) seg.setAtIndex(ValueLayout.JAVA_FLOAT, x, (float) Fp8TestWeights.gauss(r));
        return seg;
    }

    private static void readPeer(Path md, Map<String, Double> peer) throws IOException {
        if (!Files.exists(md)) {
            System.out.println("(no " + md + ": peer columns stay empty)");
            return;
        }
        for (String line : Files.readAllLines(md)) {
            String[] c = line.split("\\|");
            if (c.length < 7 || !c[3].trim().matches("\\d+")) continue;
            peer.put(c[1].trim() + "|" + c[2].trim() + "|" + c[3].trim(), Double.parseDouble(c[6].trim()));
        }
    }

    private static double median(double[] v) {
        double[] s = v.clone();
        Arrays.sort(s);
        return s[s.length / 2];
    }

    private static String fmt(Double v) {
        return v == null ? "-" : String.format(Locale.ROOT, "%.1f", v);
    }

    private static String ratio(Double peer, double ours) {
        return peer == null ? "-" : String.format(Locale.ROOT, "%.2f", peer / ours);
    }
}
