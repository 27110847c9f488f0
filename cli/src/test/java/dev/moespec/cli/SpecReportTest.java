package dev.moespec.cli;

import org.junit.jupiter.api.Test;

import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;

class SpecReportTest {

    @Test
    void launchesLineListsTargetThenDraftWithEachImage() {
        String line = SpecReport.launches(Map.of(
                "draft", new java.util.TreeMap<>(Map.of("moespec-engine", 2304L, "moespec-backend-triton", 1152L)),
                "target", new java.util.TreeMap<>(Map.of("moespec-engine", 9216L, "moespec-backend-flashinfer-trtllm", 4608L))));
        assertEquals("    launches  target: moespec-backend-flashinfer-trtllm 4608, moespec-engine 9216 | draft:"
                + " moespec-backend-triton 1152, moespec-engine 2304" + System.lineSeparator(), line);
    }

    @Test
    void noLaunchesNoLine() {
        assertEquals("", SpecReport.launches(Map.of()));
    }
}
