package dev.moespec.backend.auto;

import dev.moespec.api.device.DeviceInfo;
import dev.moespec.moe.MoeAutoPolicy;
import dev.moespec.moe.MoeLayerSpec;
import dev.moespec.moe.Phase;

import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Set;
import java.util.stream.Collectors;

/**
 * {@code --moe-backend auto}'s built-in policy, {@code heuristic-table}: a table keyed by quantization x device
 * class x phase (decode: at most {@value Phase#DECODE_MAX_TOKENS} tokens per call; prefill: more). The table
 * ({@link HeuristicTable#BUILT_IN}) is provisional until the kernel issues benchmark it:
 *
 * <table>
 *   <caption>Built-in ranking</caption>
 *   <tr><th>quantization</th><th>device</th><th>phase</th><th>ranking</th></tr>
 *   <tr><td>any</td><td>no GPU</td><td>both</td><td>cpu_reference</td></tr>
 *   <tr><td>any</td><td>sm &lt; 80</td><td>both</td><td>(none built in)</td></tr>
 *   <tr><td>bf16, fp16</td><td>sm &ge; 80</td><td>both</td><td>triton</td></tr>
 *   <tr><td>fp8_block_128</td><td>sm &ge; 89</td><td>both</td><td>flashinfer_trtllm, triton</td></tr>
 *   <tr><td>fp8_per_tensor</td><td>sm &ge; 89</td><td>decode</td><td>flashinfer_trtllm, triton</td></tr>
 *   <tr><td>fp8_per_tensor</td><td>sm &ge; 89</td><td>prefill</td><td>triton, flashinfer_trtllm</td></tr>
 *   <tr><td>fp8_per_channel</td><td>sm &ge; 89</td><td>both</td><td>triton</td></tr>
 *   <tr><td>any fp8</td><td>sm 80-88</td><td>both</td><td>triton (dequantised to bf16 at load)</td></tr>
 * </table>
 *
 * <p>After the row's backends come every other registered backend in alphabetical order (third-party jars,
 * and built-ins the row does not name, so the report shows why each was passed over), and finally
 * {@code cpu_reference}. The policy only ranks; the resolver checks eligibility and exclusions.
 */
public final class HeuristicAutoPolicy implements MoeAutoPolicy {

    public static final String NAME = "heuristic-table";

    private final HeuristicTable table;

    /** The ServiceLoader constructor: the built-in table. */
    public HeuristicAutoPolicy() {
        this(HeuristicTable.BUILT_IN);
    }

    /** A policy over another table (re-tuned from measurements). */
    public HeuristicAutoPolicy(HeuristicTable table) {
        this.table = Objects.requireNonNull(table, "table");
    }

    public HeuristicTable table() {
        return table;
    }

    @Override
    public String name() {
        return NAME;
    }

    @Override
    public List<Preference> rank(MoeLayerSpec layer, DeviceInfo device, Phase phase, Set<String> registered) {
        String context = "%s on %s, %s".formatted(layer.quant().cliName(),
                device.isCuda() ? "sm_" + device.sm() : device.describe(), phase.label());
        DeviceClass deviceClass = DeviceClass.of(device);
        HeuristicRow row = table.lookup(layer.quant(), deviceClass, phase);

        List<Preference> ranking = new ArrayList<>();
        String cpuReferenceWhy = device.isCuda()
                ? "last resort: the fp32 CPU reference runs any layer, slowly"
                : "no GPU: the fp32 CPU reference is the last resort";
        for (HeuristicRow.Choice choice : row.choices()) {
            // cpu_reference always goes last, even where a row names it
            if (choice.backend().equals(HeuristicTable.CPU_REFERENCE)) {
                cpuReferenceWhy = choice.why();
            } else {
                ranking.add(new Preference(choice.backend(), context + ": " + choice.why()));
            }
        }
        String others = !ranking.isEmpty()
                ? "not in the heuristic table for this case; registered, so tried after the table's choices in alphabetical order"
                : (deviceClass == DeviceClass.NO_GPU ? "no GPU" : "no built-in GPU backend serves " + deviceClass.label())
                        + "; registered, so tried before the CPU reference in alphabetical order";
        Set<String> ranked = ranking.stream().map(Preference::backend).collect(Collectors.toSet());
        registered.stream().sorted()
                .filter(name -> !ranked.contains(name) && !name.equals(HeuristicTable.CPU_REFERENCE))
                .forEach(name -> ranking.add(new Preference(name, context + ": " + others)));
        ranking.add(new Preference(HeuristicTable.CPU_REFERENCE, context + ": " + cpuReferenceWhy));
        return List.copyOf(ranking);
    }
}
