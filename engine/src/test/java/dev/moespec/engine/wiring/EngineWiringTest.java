package dev.moespec.engine.wiring;

import dev.moespec.api.config.EngineConfig;
import dev.moespec.api.config.ModelConfig;
import dev.moespec.api.config.ModelRole;
import dev.moespec.api.device.DeviceInfo;
import dev.moespec.api.device.DeviceProfiles;
import dev.moespec.api.proposer.ProposerRegistry;
import dev.moespec.moe.Eligibility;
import dev.moespec.moe.KernelContext;
import dev.moespec.moe.MoeBackendProvider;
import dev.moespec.moe.MoeKernel;
import dev.moespec.moe.MoeLayerSpec;
import dev.moespec.moe.MoeWeights;
import dev.moespec.moe.registry.MoeBackendRegistry;
import dev.moespec.moe.resolve.MoeBackendSelectionException;
import dev.moespec.moe.resolve.MoeBinding;
import dev.moespec.moe.resolve.SelectionMode;
import dev.moespec.api.tensor.Tensor;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The Guice graph: one private module per role, each with its own resolved binding and its own kernels. */
class EngineWiringTest {
    private static final Path MODELS = Path.of("../models").toAbsolutePath().normalize();
    private static final ClassLoader LOADER = EngineWiringTest.class.getClassLoader();

    private static EngineConfig config(String model, String backend, String spec) {
        return EngineConfig.builder(ModelConfig.load(MODELS.resolve(model))).moeBackend(backend)
                .speculativeConfigJson(spec).workingDirectory(MODELS).build();
    }

    private static MoeBinding binding(RoleRuntime role) {
        return assertInstanceOf(RoleMoe.Bound.class, role.moe()).binding();
    }

    @Test
    void draftGetsItsOwnBackendAndTheTargetIsUntouched() {
        EngineConfig target = config("demo-target", "flashinfer_trtllm",
                "{\"method\":\"mtp\",\"num_speculative_tokens\":1,\"moe_backend\":\"triton\"}");
        EngineConfig before = target.withMaxModelLen(target.maxModelLen());
        try (Engine engine = Engine.build(target, DeviceProfiles.H100, LOADER)) {
            MoeBinding t = binding(engine.target());
            MoeBinding d = binding(engine.draft().orElseThrow());
            assertEquals(SelectionMode.PINNED, t.mode());
            assertEquals("flashinfer_trtllm", t.choiceFor(1).backend());
            assertEquals(SelectionMode.PINNED, d.mode());
            assertEquals("triton", d.choiceFor(1).backend());
            assertEquals("triton", d.choiceFor(4096).backend());
            assertSame(target, engine.target().config());
            assertEquals(before, target);
            assertEquals("flashinfer_trtllm", engine.target().config().kernel().moeBackend());
            assertEquals("triton", engine.draft().orElseThrow().config().kernel().moeBackend());
        }
    }

    @Test
    void anInheritedBackendThatCannotRunTheDraftFallsBackToAuto() {
        EngineConfig target = config("demo-target", "flashinfer_trtllm", "{\"method\":\"mtp\",\"num_speculative_tokens\":1}");
        try (Engine engine = Engine.build(target, DeviceProfiles.H100, LOADER)) {
            MoeBinding d = binding(engine.draft().orElseThrow());
            assertEquals(SelectionMode.FALLBACK, d.mode());
            assertEquals("triton", d.choiceFor(1).backend());
            String why = d.report().fallback().orElseThrow();
            assertTrue(why.contains("flashinfer_trtllm") && why.contains("UNSUPPORTED_QUANTIZATION"), why);
            assertEquals(SelectionMode.PINNED, binding(engine.target()).mode());
        }
    }

    @Test
    void anInheritedBackendThatCanRunTheDraftIsInherited() {
        EngineConfig target = config("demo-target", "triton", "{\"method\":\"mtp\",\"num_speculative_tokens\":2}");
        try (Engine engine = Engine.build(target, DeviceProfiles.H100, LOADER)) {
            MoeBinding d = binding(engine.draft().orElseThrow());
            assertEquals(SelectionMode.INHERITED, d.mode());
            assertEquals("triton", d.choiceFor(1).backend());
        }
    }

    @Test
    void aPinnedTargetBackendThatCannotRunItsLayersFailsAtBuildWithTheFix() {
        EngineConfig target = config("demo-draft", "flashinfer_trtllm", null);
        var e = assertThrows(MoeBackendSelectionException.class, () -> Engine.build(target, DeviceProfiles.H100, LOADER));
        assertTrue(e.getMessage().contains("--moe-backend auto"), e.getMessage());
        assertTrue(e.getMessage().contains("UNSUPPORTED_QUANTIZATION"), e.getMessage());
    }

    @Test
    void withoutASpeculativeConfigThereIsNoDraftRole() {
        try (Engine engine = Engine.build(config("demo-target", "auto", null), DeviceProfiles.NO_GPU, LOADER)) {
            assertTrue(engine.draft().isEmpty());
            assertEquals("cpu_reference", binding(engine.target()).choiceFor(1).backend());
        }
    }

    @Test
    void aDenseDrafterHasNoMoeLayersToBind() {
        EngineConfig target = config("demo-target", "auto", "{\"method\":\"eagle\",\"model\":\"demo-eagle\",\"num_speculative_tokens\":2}");
        try (Engine engine = Engine.build(target, DeviceProfiles.H100, LOADER)) {
            var none = assertInstanceOf(RoleMoe.NoMoeLayers.class, engine.draft().orElseThrow().moe());
            assertTrue(none.why().contains("demo-eagle"), none.why());
            assertTrue(engine.draft().orElseThrow().kernels().isEmpty());
        }
    }

    @Test
    void rolesShareNoMutableState() throws Exception {
        RecordingProvider provider = new RecordingProvider();
        MoeBackendRegistry backends = MoeBackendRegistry.of(List.of(provider), List.of(), Set.of());
        EngineConfig target = config("demo-target", "recording",
                "{\"method\":\"mtp\",\"num_speculative_tokens\":1,\"moe_backend\":\"recording\"}");
        try (Engine engine = Engine.build(target, DeviceProfiles.H100, backends, ProposerRegistry.of(List.of()))) {
            RoleRuntime t = engine.target(), d = engine.draft().orElseThrow();
            assertNotSame(t, d);
            assertNotSame(t.moe(), d.moe());
            MoeKernels tk = t.kernels().orElseThrow(), dk = d.kernels().orElseThrow();
            assertNotSame(tk, dk);
            MoeKernel targetKernel = tk.kernelFor(1), draftKernel = dk.kernelFor(1);
            assertNotSame(targetKernel, draftKernel);
            assertSame(targetKernel, tk.kernelFor(8), "one kernel per phase per role");
            assertEquals(List.of(ModelRole.TARGET, ModelRole.DRAFT), provider.roles);
            assertSame(engine.target(), t, "a role's runtime is a singleton of its own module");
        }
        assertEquals(2, provider.closed, "closing the engine closes each role's kernels");
    }

    /** Accepts every layer and records which role asked for each kernel. */
    private static final class RecordingProvider implements MoeBackendProvider {
        final List<ModelRole> roles = new ArrayList<>();
        int closed;

        @Override
        public String name() {
            return "recording";
        }

        @Override
        public Eligibility check(MoeLayerSpec layer, DeviceInfo device) {
            return Eligibility.eligible();
        }

        @Override
        public MoeKernel create(MoeLayerSpec layer, KernelContext context) {
            roles.add(context.role());
            return new MoeKernel() {
                @Override public String backend() { return name(); }
                @Override public MoeLayerSpec layer() { return layer; }
                @Override public void loadWeights(MoeWeights weights) {}
                @Override public void forward(Tensor hidden, Tensor routerLogits, Tensor out, long stream) {}
                @Override public void close() { closed++; }
            };
        }
    }
}
