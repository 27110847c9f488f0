package dev.moespec.backend.triton;

import dev.moespec.api.config.ModelRole;
import dev.moespec.api.config.QuantScheme;
import dev.moespec.api.device.DeviceInfo;
import dev.moespec.api.tensor.DType;
import dev.moespec.api.tensor.HostTensors;
import dev.moespec.api.tensor.Tensor;
import dev.moespec.cuda.Cuda;
import dev.moespec.cuda.CudaContext;
import dev.moespec.cuda.CudaEvent;
import dev.moespec.cuda.CudaFunction;
import dev.moespec.cuda.CudaModule;
import dev.moespec.cuda.CudaStream;
import dev.moespec.cuda.DeviceBuffer;
import dev.moespec.cuda.Dim3;
import dev.moespec.cuda.KernelArgs;
import dev.moespec.moe.KernelContext;
import dev.moespec.moe.MoeLayerSpec;
import dev.moespec.moe.MoeWeights;
import dev.moespec.moe.Routing;
import dev.moespec.moe.StagedMoeKernel;

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
 * Times triton's kernel on the anchor shapes (anchors/README.md): median of CUDA-event timings, L2 flushed by writing a
 * 256 MiB buffer before every repetition, experts stage (GEMMs + activation + reduction) and routing/alignment
 * apart. Prints µs, TFLOP/s, GB/s (weights of the experts hit, once), % of 3.35 TB/s and peer_us / ours.
 *
 * <p>{@code TritonTuning [--shapes a,b] [--dtypes bf16,fp8] [--ms 1,4,...] [--reps N] [--peer anchors/peer_....md]}
 */
public final class TritonTuning {

    record Shape(String name, int e, int k, int h, int i) {}

    static final List<Shape> SHAPES = List.of(new Shape("mixtral", 8, 2, 4096, 14336), new Shape("qwen3-30b-a3b", 128, 8, 2048, 768),
            new Shape("deepseek-v2-lite", 64, 6, 2048, 1408), new Shape("small", 8, 2, 1024, 2816));
    static final double HBM_GBS = 3350;

    public static void main(String[] args) throws Exception {
        Map<String, String> opt = new HashMap<>();
        for (int n = 0; n + 1 < args.length; n += 2) opt.put(args[n].replaceFirst("^--", ""), args[n + 1]);
        List<String> shapes = List.of(opt.getOrDefault("shapes", "qwen3-30b-a3b,deepseek-v2-lite,small,mixtral").split(","));
        List<String> dtypes = List.of(opt.getOrDefault("dtypes", "bf16,fp8").split(","));
        int[] ms = Arrays.stream(opt.getOrDefault("ms", "1,4,16,64,256,1024,4096").split(",")).mapToInt(Integer::parseInt).toArray();
        int reps = Integer.parseInt(opt.getOrDefault("reps", "30"));
        Map<String, Double> peer = readPeer(Path.of(opt.getOrDefault("peer", "anchors/peer_vllm_triton_fused_moe_h100.md")));
        DeviceInfo device = Cuda.detectDevice();
        System.out.println("device: " + device.describe());
        System.out.printf(Locale.ROOT, "%-17s %-5s %5s %4s %10s %9s %9s %8s %6s %9s %7s%n", "shape", "dtype", "M", "hit", "experts_us",
                "route_us", "TFLOP/s", "GB/s", "%HBM", "peer_us", "xpeer");
        List<String> rows = new ArrayList<>();
        try (CudaContext ctx = CudaContext.open(0); CudaStream stream = CudaStream.create(ctx);
             CudaModule module = CudaModule.fromResource(ctx, TritonTuning.class.getClassLoader(),
                     CudaModule.kernelResource(TritonMoeBackendProvider.ARTIFACT_ID));
             DeviceBuffer flush = DeviceBuffer.alloc(ctx, 256L << 20);
             CudaEvent start = CudaEvent.create(ctx); CudaEvent mid = CudaEvent.create(ctx); CudaEvent end = CudaEvent.create(ctx)) {
            CudaFunction fill = module.function("moe_fill_u32x4");
            for (Shape s : SHAPES) {
                if (!shapes.contains(s.name())) continue;
                for (String dt : dtypes) {
                    QuantScheme q = dt.equals("fp8") ? QuantScheme.FP8_PER_TENSOR : QuantScheme.BF16;
                    int maxM = Arrays.stream(ms).max().orElse(1);
                    MoeLayerSpec layer = new MoeLayerSpec(s.e(), s.k(), s.h(), s.i(), MoeLayerSpec.Activation.SILU,
                            new Routing.SoftmaxTopK(true), q, maxM);
                    try (StagedMoeKernel kernel = (StagedMoeKernel) new TritonMoeBackendProvider().create(layer,
                            new KernelContext(ModelRole.TARGET, device, false))) {
                        try (Arena arena = Arena.ofShared()) {
                            kernel.loadWeights(randomWeights(arena, layer, new SplittableRandom(1)));
                        }
                        for (int m : ms) {
                            double[] t = time(kernel, layer, m, reps, ctx, stream, fill, flush, start, mid, end);
                            long hit = t[2] > 0 ? (long) t[2] : 0;
                            double bytes = hit * 3.0 * s.h() * s.i() * (q == QuantScheme.BF16 ? 2 : 1);
                            double flops = 2.0 * m * s.k() * 3.0 * s.h() * s.i();
                            double gbs = bytes / (t[0] * 1e3);
                            Double p = peer.get(s.name() + "|" + dt + "|" + m);
                            String line = String.format(Locale.ROOT, "%-17s %-5s %5d %4d %10.1f %9.1f %9.1f %8.0f %6.1f %9s %7s",
                                    s.name(), dt, m, hit, t[0], t[1], flops / (t[0] * 1e6), gbs, 100 * gbs / HBM_GBS,
                                    p == null ? "-" : String.format(Locale.ROOT, "%.1f", p),
                                    p == null ? "-" : String.format(Locale.ROOT, "%.2fx", p / t[0]));
                            System.out.println(line);
                            rows.add(line);
                        }
                    }
                }
            }
        }
        System.out.println();
        System.out.println("summary (xpeer = peer_us / ours; > 1 is faster than vLLM's Triton fused_moe):");
        rows.forEach(System.out::println);
    }

    /** {experts median µs, route median µs, hit experts}. */
    static double[] time(StagedMoeKernel kernel, MoeLayerSpec layer, int m, int reps, CudaContext ctx, CudaStream stream,
                         CudaFunction fill, DeviceBuffer flush, CudaEvent start, CudaEvent mid, CudaEvent end) {
        int h = layer.hiddenSize(), e = layer.numExperts();
        SplittableRandom r = new SplittableRandom(m);
        float[] logits = new float[m * e];
        for (int n = 0; n < logits.length; n++) logits[n] = (float) (r.nextDouble() * 2 - 1);
        int hit = hitExperts(logits, m, e, layer.topK());
        try (Arena arena = Arena.ofConfined();
             DeviceBuffer hid = DeviceBuffer.alloc(ctx, Math.max(16, 2L * m * h));
             DeviceBuffer lg = DeviceBuffer.alloc(ctx, Math.max(16, 4L * m * e));
             DeviceBuffer out = DeviceBuffer.alloc(ctx, Math.max(16, 2L * m * h))) {
            MemorySegment hs = arena.allocate(2L * m * h, 2);
            for (long n = 0; n < (long) m * h; n++) hs.setAtIndex(ValueLayout.JAVA_SHORT, n, HostTensors.floatToBf16((float) r.nextGaussian()));
            if (m > 0) {
                hid.copyFrom(hs);
                lg.copyFrom(MemorySegment.ofArray(logits));
            }
            Tensor hidden = hid.asTensor(DType.BF16, m, h), routerLogits = lg.asTensor(DType.F32, m, e), o = out.asTensor(DType.BF16, m, h);
            double[] experts = new double[reps], route = new double[reps];
            for (int rep = -3; rep < reps; rep++) {
                fill.launch(Dim3.of(132 * 8), Dim3.of(256), 0, stream, KernelArgs.create().ptr(flush).i64(flush.byteSize() / 16).i32(rep));
                start.record(stream);
                kernel.route(routerLogits, stream.handle());
                mid.record(stream);
                kernel.experts(hidden, o, stream.handle());
                end.record(stream);
                end.synchronize();
                if (rep >= 0) {
                    route[rep] = CudaEvent.elapsedMillis(start, mid) * 1e3;
                    experts[rep] = CudaEvent.elapsedMillis(mid, end) * 1e3;
                }
            }
            // experts alone, the flush between route and experts so that it is cold as well
            for (int rep = 0; rep < reps; rep++) {
                fill.launch(Dim3.of(132 * 8), Dim3.of(256), 0, stream, KernelArgs.create().ptr(flush).i64(flush.byteSize() / 16).i32(rep));
                mid.record(stream);
                kernel.experts(hidden, o, stream.handle());
                end.record(stream);
                end.synchronize();
                experts[rep] = Math.min(experts[rep], CudaEvent.elapsedMillis(mid, end) * 1e3);
            }
            Arrays.sort(experts);
            Arrays.sort(route);
            return new double[]{experts[reps / 2], route[reps / 2], hit};
        }
    }

    static int hitExperts(float[] logits, int m, int e, int k) {
        boolean[] hit = new boolean[e];
        for (int t = 0; t < m; t++) {
            Integer[] idx = new Integer[e];
            for (int n = 0; n < e; n++) idx[n] = n;
            final int base = t * e;
            Arrays.sort(idx, (a, b) -> Float.compare(logits[base + b], logits[base + a]));
            for (int j = 0; j < k; j++) hit[idx[j]] = true;
        }
        int c = 0;
        for (boolean b : hit) if (b) c++;
        return c;
    }

    /** Random weights with realistic magnitudes (std 1/sqrt(fan-in)) and, for FP8, per-expert scales. */
    static MoeWeights randomWeights(Arena arena, MoeLayerSpec layer, SplittableRandom r) {
        int e = layer.numExperts(), h = layer.hiddenSize(), i = layer.intermediateSize();
        boolean fp8 = layer.quant().isFp8();
        Tensor w13 = randomStack(arena, fp8, (long) e * 2 * i * h, 1 / Math.sqrt(h), r, e, 2L * i, h);
        Tensor w2 = randomStack(arena, fp8, (long) e * h * i, 1 / Math.sqrt(i), r, e, h, i);
        if (!fp8) return MoeWeights.unquantized(w13, w2);
        float[] s13 = new float[e], s2 = new float[e];
        Arrays.fill(s13, (float) (1 / Math.sqrt(h) / 2));
        Arrays.fill(s2, (float) (1 / Math.sqrt(i) / 2));
        return MoeWeights.fp8(w13, w2, HostTensors.fromFloats(arena, DType.F32, s13, e), HostTensors.fromFloats(arena, DType.F32, s2, e));
    }

    private static Tensor randomStack(Arena arena, boolean fp8, long n, double std, SplittableRandom r, long... shape) {
        // a table of 4096 gaussian values, indexed by a fast random stream: gigabytes in seconds
        short[] bf = new short[4096];
        byte[] f8 = new byte[4096];
        for (int t = 0; t < 4096; t++) {
            double g = r.nextGaussian();
            bf[t] = HostTensors.floatToBf16((float) (g * std));
            f8[t] = HostTensors.floatToE4m3((float) (g * 2));
        }
        MemorySegment seg = arena.allocate(n * (fp8 ? 1 : 2), 16);
        long x = r.nextLong() | 1;
        for (long p = 0; p < n; p++) {
            x ^= x << 13;
            x ^= x >>> 7;
            x ^= x << 17;
            int t = (int) (x >>> 52);
            if (fp8) seg.set(ValueLayout.JAVA_BYTE, p, f8[t]);
            else seg.setAtIndex(ValueLayout.JAVA_SHORT, p, bf[t]);
        }
        return Tensor.host(fp8 ? DType.FP8_E4M3 : DType.BF16, seg, shape);
    }

    static Map<String, Double> readPeer(Path md) throws IOException {
        Map<String, Double> peer = new HashMap<>();
        if (!Files.exists(md)) return peer;
        for (String line : Files.readAllLines(md)) {
            String[] c = line.split("\\|");
            if (c.length < 7) continue;
            try {
                peer.put(c[1].trim() + "|" + c[2].trim() + "|" + Integer.parseInt(c[3].trim()), Double.parseDouble(c[6].trim()));
            } catch (NumberFormatException ignored) {
                // header and separator rows
            }
        }
        return peer;
    }
}
