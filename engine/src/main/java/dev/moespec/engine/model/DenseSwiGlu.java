package dev.moespec.engine.model;

/** A dense SwiGLU MLP: {@code (silu(b·gateᵀ) ⊙ (b·upᵀ)) · downᵀ} (the EAGLE head's feed-forward, FORMAT.md §5.1). */
public record DenseSwiGlu(Linear gate, Linear up, Linear down) implements DecoderLayer.Mlp {
    @Override
    public float[] apply(float[] b, int m) {
        float[] g = gate.apply(b, m), u = up.apply(b, m);
        for (int n = 0; n < g.length; n++) g[n] = Ops.silu(g[n]) * u[n];
        return down.apply(g, m);
    }
}
