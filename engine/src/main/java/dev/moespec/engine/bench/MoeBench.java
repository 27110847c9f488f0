package dev.moespec.engine.bench;

import dev.moespec.api.config.ModelRole;
import dev.moespec.api.device.DeviceInfo;
import dev.moespec.api.tensor.DType;
import dev.moespec.api.tensor.HostTensors;
import dev.moespec.api.tensor.Tensor;
import dev.moespec.moe.Eligibility;
import dev.moespec.moe.KernelContext;
import dev.moespec.moe.MoeBackendProvider;
import dev.moespec.moe.MoeLayerSpec;
import dev.moespec.moe.Routing;
import dev.moespec.moe.registry.MoeBackendRegistry;
import dev.moespec.moe.resolve.MoeBackendResolver;
import dev.moespec.moe.resolve.MoeBackendSelectionException;

import java.lang.foreign.Arena;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.Comparator;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.OptionalDouble;
import java.util.function.Consumer;

/**
 * {@code moespec bench moe}: times one MoE backend over shape × dtype × M rows with the anchors' definitions and
 * sets each row beside the peer's.
 *
 * <p>Per shape and dtype: a {@link MoeLayerSpec} (SiLU, softmax top-k renormalised, maxTokens = the largest M),
 * seeded random weights in HF layout ({@link RandomMoeWeights}), a kernel made through the registry by name
 * ({@code auto} resolves per row through {@link MoeBackendResolver}, so decode and prefill rows may run different
 * backends) and {@code loadWeights} once. Per M: one checked forward (output poisoned first; error against
 * {@code cpu_reference} where affordable, {@link ReferenceCheck}), then the timing — GPU kernels with CUDA events
 * on device tensors ({@link DeviceStageTimer}), host kernels with the wall clock ({@link HostStageTimer}). A
 * {@link dev.moespec.moe.StagedMoeKernel} is timed as {@code route} (align column) and {@code experts} (main
 * column) separately; any other kernel's whole {@code forward} is the main column, routing included.
 *
 * <p>Which tensors a kernel takes: a backend that is eligible on a CPU device computes on the host
 * ({@code cpu_reference}, third-party CPU backends); every other backend gets device tensors.
 */
public final class MoeBench {
    private static final long MIN_FLUSH_BYTES = 64L << 20;
    private static final int DEVICE_WARMUP = 3;
    private static final int HOST_WARMUP = 1;

    /**
     * What to run.
     *
     * @param backend {@code auto} or a backend name
     * @param shapes  layer shapes, in table order
     * @param dtypes  weight formats, in table order
     * @param tokens  the M of each row, ascending, distinct
     * @param reps    timed repetitions per stage (the median is reported)
     * @param graphs  replay CUDA graphs on the GPU (falls back to eager launches where capture fails)
     * @param seed    seeds weights and inputs: the same seed gives the same numbers
     */
    public record Config(String backend, List<BenchShape> shapes, List<BenchDtype> dtypes, List<Integer> tokens, int reps,
                         boolean graphs, long seed) {
        public Config {
            Objects.requireNonNull(backend, "backend");
            shapes = List.copyOf(shapes);
            dtypes = List.copyOf(dtypes);
            tokens = tokens.stream().distinct().sorted().toList();
            if (shapes.isEmpty()) throw new IllegalArgumentException("no shapes to run: pass at least one to --shapes");
            if (dtypes.isEmpty()) throw new IllegalArgumentException("no dtypes to run: pass at least one to --dtype");
            if (tokens.isEmpty()) throw new IllegalArgumentException("no token counts to run: pass at least one M to --tokens");
            if (tokens.getFirst() < 1) {
                throw new IllegalArgumentException("--tokens must be >= 1, got " + tokens.getFirst());
            }
            if (reps < 1) throw new IllegalArgumentException("--reps must be >= 1, got " + reps);
        }

        public int maxTokens() {
            return tokens.getLast();
        }

        public int rowCount() {
            return shapes.size() * dtypes.size() * tokens.size();
        }
    }

    private final Config config;
    private final MoeBackendRegistry registry;
    private final DeviceInfo device;
    private final PeerAnchors peers;
    private final PeerAnchors.HbmPeak hbm;
    private final Consumer<String> progress;
    private final Optional<MoeBackendProvider> pinned;
    private DeviceRig rig; // opened when the first GPU kernel needs it
    private int rowIndex;

    private MoeBench(Config config, MoeBackendRegistry registry, DeviceInfo device, PeerAnchors peers, Consumer<String> progress) {
        this.config = config;
        this.registry = registry;
        this.device = device;
        this.peers = peers;
        this.hbm = peers.hbmPeak();
        this.progress = progress;
        this.pinned = isAuto(config.backend()) ? Optional.empty()
                : Optional.of(registry.require(config.backend(), "--backend"));
    }

    private static boolean isAuto(String backend) {
        return backend.strip().equalsIgnoreCase(MoeBackendRegistry.AUTO);
    }

    /**
     * Runs every row.
     *
     * @param progress receives one line per row as it starts (stderr in the CLI)
     * @throws dev.moespec.moe.registry.UnknownMoeBackendException for an unknown {@code --backend}
     * @throws BenchUnavailableException when the backend needs a GPU and this machine has none
     */
    public static BenchReport run(Config config, MoeBackendRegistry registry, DeviceInfo device, PeerAnchors peers,
                                  Consumer<String> progress) {
        MoeBench bench = new MoeBench(config, registry, device, peers, progress);
        bench.refuseWithoutDevice();
        progress.accept("bench moe: backend " + config.backend() + " on " + device.describe() + ", " + config.rowCount() + " rows");
        try {
            List<BenchRow> rows = bench.runAll();
            long flush = bench.rig == null ? 0 : bench.rig.flushBytes();
            String how = bench.rig == null ? "" : bench.rig.flushDescription();
            return new BenchReport(device, config.backend(), config, bench.hbm, peers, flush, how, rows);
        } finally {
            if (bench.rig != null) bench.rig.close();
        }
    }

    /** A GPU backend on a machine without a GPU cannot produce a single number: one error, not a table of rejections. */
    private void refuseWithoutDevice() {
        if (pinned.isEmpty() || device.isCuda()) return;
        MoeLayerSpec first = layer(config.shapes().getFirst(), config.dtypes().getFirst());
        if (pinned.get().check(first, device) instanceof Eligibility.Rejected r && r.reason() == Eligibility.Reason.NO_DEVICE) {
            throw new BenchUnavailableException("bench moe --backend " + pinned.get().name() + " needs a GPU: " + r
                    + " (a benchmark measures the real device; --backend cpu_reference runs on the CPU)");
        }
    }

    private List<BenchRow> runAll() {
        List<BenchRow> rows = new ArrayList<>();
        for (BenchShape shape : config.shapes()) {
            try (ShapeInputs inputs = new ShapeInputs(shape, config.maxTokens(), config.seed())) {
                for (BenchDtype dtype : config.dtypes()) {
                    try (KernelGroup group = new KernelGroup(shape, dtype, layer(shape, dtype), config.seed(), progress)) {
                        for (int m : config.tokens()) rows.add(runRow(inputs, group, m));
                    }
                }
            }
        }
        // The anchors' order: shape, then M, then dtype (bf16 and fp8 rows of one M side by side).
        List<BenchShape> shapeOrder = config.shapes();
        List<BenchDtype> dtypeOrder = config.dtypes();
        rows.sort(Comparator.<BenchRow>comparingInt(r -> shapeOrder.indexOf(r.shape()))
                .thenComparingInt(BenchRow::tokens)
                .thenComparingInt(r -> dtypeOrder.indexOf(r.dtype())));
        return rows;
    }

    /** The layer a row runs: SiLU, softmax top-k renormalised (Mixtral, Qwen3-MoE), maxTokens = the largest M. */
    MoeLayerSpec layer(BenchShape shape, BenchDtype dtype) {
        return new MoeLayerSpec(shape.numExperts(), shape.topK(), shape.hiddenSize(), shape.intermediateSize(),
                MoeLayerSpec.Activation.SILU, new Routing.SoftmaxTopK(true), dtype.quant(), config.maxTokens());
    }

    private BenchRow runRow(ShapeInputs inputs, KernelGroup group, int m) {
        BenchShape shape = group.shape();
        BenchDtype dtype = group.dtype();
        rowIndex++;
        progress.accept("[%d/%d] %s %s M=%d".formatted(rowIndex, config.rowCount(), shape.name(), dtype.label(), m));
        Optional<PeerAnchors.PeerRow> peer = peers.row(shape.name(), dtype, m);
        MoeBackendProvider provider;
        try {
            provider = pinned.isPresent() ? pinned.get()
                    : new MoeBackendResolver(registry).resolveTarget(MoeBackendRegistry.AUTO, group.layer(), device).choiceFor(m).provider();
        } catch (MoeBackendSelectionException e) {
            return new BenchRow.Failed(shape, dtype, m, MoeBackendRegistry.AUTO, peer, e.getMessage());
        }
        String name = provider.name();
        if (registry.isExcluded(name)) {
            return new BenchRow.Rejected(shape, dtype, m, name, peer, Eligibility.rejected(Eligibility.Reason.EXCLUDED,
                    name + " is excluded (" + registry.exclusionSource() + ")"));
        }
        if (provider.check(group.layer(), device) instanceof Eligibility.Rejected r) {
            return new BenchRow.Rejected(shape, dtype, m, name, peer, r);
        }
        try {
            KernelGroup.Slot slot = group.slot(provider, new KernelContext(ModelRole.TARGET, device, false));
            if (slot instanceof KernelGroup.Slot.Refused refused) {
                return new BenchRow.Rejected(shape, dtype, m, name, peer, refused.rejection());
            }
            return measure(inputs, group, (KernelGroup.Slot.Ready) slot, m, peer);
        } catch (BenchUnavailableException e) {
            throw e;
        } catch (RuntimeException e) {
            progress.accept("  failed: " + e);
            return new BenchRow.Failed(shape, dtype, m, name, peer, String.valueOf(e.getMessage()));
        }
    }

    private BenchRow measure(ShapeInputs inputs, KernelGroup group, KernelGroup.Slot.Ready slot, int m,
                             Optional<PeerAnchors.PeerRow> peer) {
        BenchShape shape = group.shape();
        BenchDtype dtype = group.dtype();
        RowRunner runner = slot.onHost()
                ? new HostRowRunner(inputs.host(), new HostStageTimer(HOST_WARMUP, config.reps()))
                : deviceRig().runner(inputs);
        RowRunner.Result result = runner.run(slot.kernel(), m);

        BitSet hit = inputs.expertsHit(m);
        int hitCount = hit.cardinality();
        OptionalDouble error = OptionalDouble.empty();
        Optional<String> skip = ReferenceCheck.skipReason(shape, m, hitCount);
        String note = skip.orElse("");
        int unwritten = countNaN(result.output());
        if (unwritten > 0) {
            error = OptionalDouble.of(Double.NaN);
            note = unwritten + " of " + result.output().length + " outputs are NaN (unwritten or broken)";
        } else if (skip.isEmpty()) {
            float[] ref = ReferenceCheck.reference(shape, dtype, group.weights(), hit, inputs.hidden(), inputs.logits(), m);
            error = OptionalDouble.of(ReferenceCheck.relativeError(result.output(), ref));
        }

        double us = result.main().medianUs();
        double flops = shape.flops(m);
        long bytes = hitCount * dtype.expertBytes(shape);
        double gbps = bytes / us / 1e3;
        return new BenchRow.Measured(shape, dtype, m, slot.kernel().backend(), peer, hitCount, result.main(), result.align(),
                result.staged(), flops, bytes, flops / us / 1e6, gbps, 100 * gbps / (hbm.tbs() * 1e3), error, note);
    }

    private static int countNaN(float[] v) {
        int n = 0;
        for (float x : v) if (Float.isNaN(x)) n++;
        return n;
    }

    private DeviceRig deviceRig() {
        if (rig == null) {
            if (!device.isCuda()) {
                throw new BenchUnavailableException("a GPU kernel needs a CUDA device, and this run has " + device.describe());
            }
            rig = DeviceRig.open(device.ordinal(), config.graphs(), DEVICE_WARMUP, config.reps(), MIN_FLUSH_BYTES);
        }
        return rig;
    }

    /** Host tensors of one shape's inputs: hidden BF16 {@code [maxM, H]} and logits F32 {@code [maxM, E]}. */
    record HostInputs(Tensor hidden, Tensor logits) {
        Tensor hidden(int m) {
            return slice(hidden, m);
        }

        Tensor logits(int m) {
            return slice(logits, m);
        }

        private static Tensor slice(Tensor t, int m) {
            long cols = t.dim(1);
            return Tensor.host(t.dtype(), t.data().asSlice(0, m * cols * t.dtype().byteSize()), m, cols);
        }

        static HostInputs of(Arena arena, BenchShape shape, float[] hidden, float[] logits, int maxTokens) {
            return new HostInputs(
                    RandomMoeWeights.hostTensor(arena, DType.BF16, hidden, maxTokens, shape.hiddenSize()),
                    RandomMoeWeights.hostTensor(arena, DType.F32, logits, maxTokens, shape.numExperts()));
        }
    }

    /** bf16 bits to floats. */
    static float[] bf16ToFloats(java.lang.foreign.MemorySegment s, int count) {
        float[] out = new float[count];
        for (int k = 0; k < count; k++) {
            out[k] = HostTensors.bf16ToFloat(s.get(java.lang.foreign.ValueLayout.JAVA_SHORT_UNALIGNED
                    .withOrder(java.nio.ByteOrder.LITTLE_ENDIAN), 2L * k));
        }
        return out;
    }
}
