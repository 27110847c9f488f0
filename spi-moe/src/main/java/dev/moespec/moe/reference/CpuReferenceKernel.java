package dev.moespec.moe.reference;

import dev.moespec.api.tensor.DType;
import dev.moespec.api.tensor.HostTensors;
import dev.moespec.api.tensor.Tensor;
import dev.moespec.moe.MoeKernel;
import dev.moespec.moe.MoeLayerSpec;
import dev.moespec.moe.MoeTensorChecks;
import dev.moespec.moe.MoeWeights;

import java.util.Objects;
import java.util.Set;

/**
 * {@link MoeKernel} over {@link CpuReferenceMoe}: host tensors only; {@code hidden}/{@code out} in the layer's
 * activation dtype or F32; router logits F32 or BF16. The stream argument is ignored.
 */
public final class CpuReferenceKernel implements MoeKernel {
    private final MoeLayerSpec layer;
    private final Set<DType> activationDTypes;
    private CpuReferenceMoe moe;
    private boolean closed;

    public CpuReferenceKernel(MoeLayerSpec layer) {
        this.layer = Objects.requireNonNull(layer, "layer");
        this.activationDTypes = Set.of(MoeTensorChecks.activationDType(layer.quant()), DType.F32);
    }

    @Override
    public String backend() {
        return CpuReferenceBackendProvider.NAME;
    }

    @Override
    public MoeLayerSpec layer() {
        return layer;
    }

    @Override
    public void loadWeights(MoeWeights weights) {
        requireOpen();
        moe = new CpuReferenceMoe(layer, Fp32ExpertWeights.from(layer, Objects.requireNonNull(weights, "weights")));
    }

    @Override
    public void forward(Tensor hidden, Tensor routerLogits, Tensor out, long stream) {
        requireOpen();
        if (moe == null) {
            throw new IllegalStateException("cpu_reference kernel for " + layer.describe() + " has no weights; call loadWeights first");
        }
        int m = MoeTensorChecks.checkForward(layer, hidden, routerLogits, out, activationDTypes, Tensor.Placement.HOST);
        if (m == 0) return;
        float[] result = moe.forward(HostTensors.toFloats(hidden), HostTensors.toFloats(routerLogits), m);
        for (int n = 0; n < result.length; n++) HostTensors.set(out, n, result[n]);
    }

    @Override
    public void close() {
        closed = true;
        moe = null;
    }

    private void requireOpen() {
        if (closed) throw new IllegalStateException("cpu_reference kernel for " + layer.describe() + " is closed");
    }
}
