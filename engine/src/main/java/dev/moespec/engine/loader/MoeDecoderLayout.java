package dev.moespec.engine.loader;

import dev.moespec.api.config.ModelConfig;

/**
 * Decoder-only MoE transformers in Hugging Face naming: Qwen3-MoE (q/k norms, {@code mlp.experts.E.gate_proj})
 * and Mixtral ({@code block_sparse_moe.experts.E.w1/w3/w2}, no q/k norms). The model reads its weights through
 * {@link Naming} so the names live in one place.
 */
public record MoeDecoderLayout(Naming naming) implements CheckpointLayout {

    /** Tensor names of one architecture. */
    public enum Naming {
        QWEN3_MOE("mlp", "gate_proj", "up_proj", "down_proj", true),
        MIXTRAL("block_sparse_moe", "w1", "w3", "w2", false);

        private final String moe, gate, up, down;
        private final boolean qkNorm;

        Naming(String moe, String gate, String up, String down, boolean qkNorm) {
            this.moe = moe;
            this.gate = gate;
            this.up = up;
            this.down = down;
            this.qkNorm = qkNorm;
        }

        public boolean hasQkNorm() {
            return qkNorm;
        }

        public String embed() {
            return "model.embed_tokens.weight";
        }

        public String finalNorm() {
            return "model.norm.weight";
        }

        public String lmHead() {
            return "lm_head.weight";
        }

        public String layer(int i, String suffix) {
            return "model.layers." + i + "." + suffix;
        }

        /** {@code q}, {@code k}, {@code v} or {@code o}. */
        public String attn(int i, String which) {
            return layer(i, "self_attn." + which + "_proj.weight");
        }

        public String qNorm(int i) {
            return layer(i, "self_attn.q_norm.weight");
        }

        public String kNorm(int i) {
            return layer(i, "self_attn.k_norm.weight");
        }

        public String inputNorm(int i) {
            return layer(i, "input_layernorm.weight");
        }

        public String postAttnNorm(int i) {
            return layer(i, "post_attention_layernorm.weight");
        }

        public String router(int i) {
            return layer(i, moe + ".gate.weight");
        }

        public String expertGate(int i, int e) {
            return layer(i, moe + ".experts." + e + "." + gate + ".weight");
        }

        public String expertUp(int i, int e) {
            return layer(i, moe + ".experts." + e + "." + up + ".weight");
        }

        public String expertDown(int i, int e) {
            return layer(i, moe + ".experts." + e + "." + down + ".weight");
        }
    }

    @Override
    public void validate(Checkpoint c) {
        ModelConfig m = c.config();
        long h = m.hiddenSize(), v = m.vocabSize(), d = m.headDim(), q = (long) m.numAttentionHeads() * d,
                kv = (long) m.numKeyValueHeads() * d, inter = m.moeIntermediateSize();
        requirePositive(c, m);
        CheckpointLayout.requireVector(c, naming.embed(), v, h);
        CheckpointLayout.requireVector(c, naming.finalNorm(), h);
        if (!m.tieWordEmbeddings()) CheckpointLayout.requireVector(c, naming.lmHead(), v, h);
        for (int i = 0; i < m.numHiddenLayers(); i++) {
            CheckpointLayout.requireVector(c, naming.inputNorm(i), h);
            CheckpointLayout.requireVector(c, naming.postAttnNorm(i), h);
            CheckpointLayout.requireMatrix(c, naming.attn(i, "q"), q, h);
            CheckpointLayout.requireMatrix(c, naming.attn(i, "k"), kv, h);
            CheckpointLayout.requireMatrix(c, naming.attn(i, "v"), kv, h);
            CheckpointLayout.requireMatrix(c, naming.attn(i, "o"), h, q);
            if (naming.hasQkNorm()) {
                CheckpointLayout.requireVector(c, naming.qNorm(i), d);
                CheckpointLayout.requireVector(c, naming.kNorm(i), d);
            }
            CheckpointLayout.requireVector(c, naming.router(i), m.numExperts(), h);
            for (int e = 0; e < m.numExperts(); e++) {
                CheckpointLayout.requireMatrix(c, naming.expertGate(i, e), inter, h);
                CheckpointLayout.requireMatrix(c, naming.expertUp(i, e), inter, h);
                CheckpointLayout.requireMatrix(c, naming.expertDown(i, e), h, inter);
            }
        }
    }

    private static void requirePositive(Checkpoint c, ModelConfig m) {
        if (m.numHiddenLayers() < 1 || m.numAttentionHeads() < 1 || m.numKeyValueHeads() < 1 || m.headDim() < 1
                || m.numExperts() < 1 || m.moeIntermediateSize() < 1
                || m.numAttentionHeads() % m.numKeyValueHeads() != 0 || m.headDim() % 2 != 0) {
            throw new CheckpointException(m.configFile(), null, "needs num_hidden_layers, num_attention_heads,"
                    + " num_key_value_heads (dividing the heads), an even head_dim, num_experts and moe_intermediate_size"
                    + " all > 0; got layers=" + m.numHiddenLayers() + " heads=" + m.numAttentionHeads() + " kv_heads="
                    + m.numKeyValueHeads() + " head_dim=" + m.headDim() + " experts=" + m.numExperts()
                    + " moe_intermediate_size=" + m.moeIntermediateSize());
        }
    }
}
