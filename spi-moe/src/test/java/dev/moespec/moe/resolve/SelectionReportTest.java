package dev.moespec.moe.resolve;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.moespec.api.device.DeviceProfiles;
import org.junit.jupiter.api.Test;

import java.util.List;

import static dev.moespec.moe.resolve.Fixtures.*;
import static org.junit.jupiter.api.Assertions.*;

class SelectionReportTest {

    @Test
    void fallbackReportRendersReadableLines() {
        SelectionReport report = resolver().resolveDraft(null, "flashinfer_trtllm", BF16_LAYER, DeviceProfiles.H100).report();
        assertEquals(List.of(
                "draft  : triton  [FALLBACK]",
                "  layer    E=16 top-4 H=256 I=128 silu softmax-topk-renorm bf16",
                "  device   NVIDIA H100 80GB HBM3 (sm_90, 132 SMs, 79.6 GiB)",
                "  request  flashinfer_trtllm (--moe-backend, inherited by the draft)",
                "  why      inherited 'flashinfer_trtllm' from --moe-backend cannot run the draft's layers (UNSUPPORTED_QUANTIZATION: "
                        + "serves fp8_block_128 only, got bf16); fell back to auto. Set \"moe_backend\" in --speculative-config to "
                        + "choose explicitly.",
                "  decode   triton  (policy heuristic-table: portable; skipped flashinfer_trtllm (UNSUPPORTED_QUANTIZATION))",
                "  prefill  triton  (policy heuristic-table: prefill: grouped GEMM)",
                "  rejected flashinfer_trtllm  UNSUPPORTED_QUANTIZATION: serves fp8_block_128 only, got bf16",
                "  eligible cpu_reference      eligible; the CPU fallback is not auto-selected on a GPU; pin it to use it",
                "  note     policy heuristic-table ranks 'deep_gemm', which no jar provides"), report.render());
    }

    @Test
    void perPhaseWinnersShareTheHeadline() {
        SelectionReport report = resolver().resolveTarget("auto", FP8_LAYER, DeviceProfiles.H100).report();
        assertEquals("target : flashinfer_trtllm (decode), triton (prefill)  [AUTO]", report.render().getFirst());
    }

    @Test
    void serialisesAndReadsBackWithAPlainObjectMapper() throws Exception {
        ObjectMapper mapper = new ObjectMapper();
        SelectionReport report = resolver().resolveDraft(null, "flashinfer_trtllm", BF16_LAYER, DeviceProfiles.H100).report();
        String json = mapper.writeValueAsString(report);
        JsonNode tree = mapper.readTree(json);
        assertEquals("DRAFT", tree.get("role").asText());
        assertEquals("FALLBACK", tree.get("mode").asText());
        assertEquals("DECODE", tree.get("phases").get(0).get("phase").asText());
        assertEquals("REJECTED", tree.get("candidates").get(1).get("status").asText());
        assertTrue(tree.get("fallbackReason").asText().startsWith("inherited 'flashinfer_trtllm'"));
        assertFalse(tree.has("fallback"), "helper accessors must not leak into the JSON");
        assertEquals(report, mapper.readValue(json, SelectionReport.class));

        SelectionReport pinned = resolver().resolveTarget("triton", BF16_LAYER, DeviceProfiles.H100).report();
        assertTrue(mapper.readTree(mapper.writeValueAsString(pinned)).get("fallbackReason").isNull());
    }
}
