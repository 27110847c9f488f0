package dev.moespec.engine.model;

import dev.moespec.api.tensor.DType;
import dev.moespec.engine.loader.MoeDecoderLayout;
import dev.moespec.engine.loader.SafetensorsWriter;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * A tiny synthetic Mixtral checkpoint in Hugging Face naming ({@code block_sparse_moe.experts.E.w1/w2/w3}, no q/k
 * norms, BF16 weights) and an independent fp64 forward over the same numbers: shared by the CPU and GPU Mixtral
 * tests. Small, but with GQA (4 query heads over 2 KV heads), top-2 of 4 experts and two layers.
 */
public final class SyntheticMixtral {
    public static final int H = 32, LAYERS = 2, HEADS = 4, KV_HEADS = 2, D = H / HEADS, EXPERTS = 4, TOP_K = 2, INTER = 24,
            VOCAB = 50, MAX_POS = 128;
    public static final double EPS = 1e-5, THETA = 1e6;

    private SyntheticMixtral() {}

    /** Writes {@code config.json} and {@code model.safetensors} into {@code dir}; returns every weight as fp64. */
    public static Map<String, double[]> write(Path dir) throws IOException {
        Files.writeString(dir.resolve("config.json"), """
                {"architectures": ["MixtralForCausalLM"], "model_type": "mixtral", "hidden_size": %d,
                 "num_hidden_layers": %d, "num_attention_heads": %d, "num_key_value_heads": %d, "vocab_size": %d,
                 "max_position_embeddings": %d, "rms_norm_eps": 1e-05, "rope_theta": 1000000.0,
                 "tie_word_embeddings": false, "num_local_experts": %d, "num_experts_per_tok": %d,
                 "intermediate_size": %d, "torch_dtype": "bfloat16"}
                """.formatted(H, LAYERS, HEADS, KV_HEADS, VOCAB, MAX_POS, EXPERTS, TOP_K, INTER));
        SplittableRandom rnd = new SplittableRandom(20250605);
        SafetensorsWriter w = new SafetensorsWriter();
        Map<String, double[]> weights = new HashMap<>();
        MoeDecoderLayout.Naming n = MoeDecoderLayout.Naming.MIXTRAL;
        add(w, weights, rnd, n.embed(), 1.0, 0, VOCAB, H);
        for (int l = 0; l < LAYERS; l++) {
            add(w, weights, rnd, n.inputNorm(l), 0.2, 1.0, H);
            add(w, weights, rnd, n.attn(l, "q"), 0.3, 0, HEADS * D, H);
            add(w, weights, rnd, n.attn(l, "k"), 0.3, 0, KV_HEADS * D, H);
            add(w, weights, rnd, n.attn(l, "v"), 0.3, 0, KV_HEADS * D, H);
            add(w, weights, rnd, n.attn(l, "o"), 0.3, 0, H, HEADS * D);
            add(w, weights, rnd, n.postAttnNorm(l), 0.2, 1.0, H);
            add(w, weights, rnd, "model.layers." + l + ".block_sparse_moe.gate.weight", 0.5, 0, EXPERTS, H);
            for (int e = 0; e < EXPERTS; e++) {
                add(w, weights, rnd, "model.layers." + l + ".block_sparse_moe.experts." + e + ".w1.weight", 0.3, 0, INTER, H);
                add(w, weights, rnd, "model.layers." + l + ".block_sparse_moe.experts." + e + ".w2.weight", 0.3, 0, H, INTER);
                add(w, weights, rnd, "model.layers." + l + ".block_sparse_moe.experts." + e + ".w3.weight", 0.3, 0, INTER, H);
            }
        }
        add(w, weights, rnd, n.finalNorm(), 0.2, 1.0, H);
        add(w, weights, rnd, n.lmHead(), 0.5, 0, VOCAB, H);
        w.write(dir.resolve("model.safetensors"));
        return weights;
    }

    /** Uniform values in {@code mean ± scale}, rounded to BF16 so the file and the fp64 reference hold the same numbers. */
    private static void add(SafetensorsWriter w, Map<String, double[]> weights, SplittableRandom rnd, String name, double scale,
                            double mean, long... shape) {
        int count = 1;
        for (long s : shape) count *= (int) s;
        float[] f = new float[count];
        double[] dd = new double[count];
        for (int i = 0; i < count; i++) {
            float v = (float) (mean + scale * (2 * rnd.nextDouble() - 1));
            f[i] = Float.intBitsToFloat(Float.floatToIntBits(v) & 0xFFFF0000); // exact in BF16
            dd[i] = f[i];
        }
        weights.put(name, dd);
        w.addFloats(name, DType.BF16, f, shape);
    }

    public static int argmax(double[] v) {
        int best = 0;
        for (int i = 1; i < v.length; i++) if (v[i] > v[best]) best = i;
        return best;
    }

    /** Mixtral's forward as HF's modeling_mixtral writes it, in fp64, full recompute, no cache. */
    public static final class Fp64Forward {
        private final Map<String, double[]> weights;
        /** False gives Qwen3's default (no renormalisation): used to show the check can tell the two apart. */
        private final boolean renormalise;

        public Fp64Forward(Map<String, double[]> weights) {
            this(weights, true);
        }

        public Fp64Forward(Map<String, double[]> weights, boolean renormalise) {
            this.weights = weights;
            this.renormalise = renormalise;
        }

        private double[] w(String name) {
            return weights.get(name);
        }

        /** Logits {@code [position][vocab]} of every position of {@code tokens}. */
        public double[][] forward(int[] tokens) {
            int n = tokens.length;
            double[][] x = new double[n][];
            for (int t = 0; t < n; t++) x[t] = Arrays.copyOfRange(w("model.embed_tokens.weight"), tokens[t] * H, (tokens[t] + 1) * H);
            for (int l = 0; l < LAYERS; l++) {
                String p = "model.layers." + l + ".";
                double[][] q = new double[n][], k = new double[n][], v = new double[n][];
                for (int t = 0; t < n; t++) {
                    double[] a = rms(x[t], w(p + "input_layernorm.weight"));
                    q[t] = rope(matvec(w(p + "self_attn.q_proj.weight"), a, HEADS * D), HEADS, t);
                    k[t] = rope(matvec(w(p + "self_attn.k_proj.weight"), a, KV_HEADS * D), KV_HEADS, t);
                    v[t] = matvec(w(p + "self_attn.v_proj.weight"), a, KV_HEADS * D);
                }
                for (int t = 0; t < n; t++) {
                    double[] att = new double[HEADS * D];
                    for (int head = 0; head < HEADS; head++) {
                        int g = head / (HEADS / KV_HEADS);
                        double[] s = new double[t + 1];
                        for (int u = 0; u <= t; u++) {
                            for (int c = 0; c < D; c++) s[u] += q[t][head * D + c] * k[u][g * D + c];
                            s[u] /= Math.sqrt(D);
                        }
                        double[] pr = softmax(s);
                        for (int u = 0; u <= t; u++) for (int c = 0; c < D; c++) att[head * D + c] += pr[u] * v[u][g * D + c];
                    }
                    double[] o = matvec(w(p + "self_attn.o_proj.weight"), att, H);
                    for (int c = 0; c < H; c++) x[t][c] += o[c];
                }
                for (int t = 0; t < n; t++) {
                    double[] b = rms(x[t], w(p + "post_attention_layernorm.weight"));
                    double[] f = moe(p + "block_sparse_moe.", b);
                    for (int c = 0; c < H; c++) x[t][c] += f[c];
                }
            }
            double[][] logits = new double[n][];
            for (int t = 0; t < n; t++) logits[t] = matvec(w("lm_head.weight"), rms(x[t], w("model.norm.weight")), VOCAB);
            return logits;
        }

        /** softmax over router logits → top-k → renormalise over the k → Σ w·w2(silu(w1 x) ⊙ w3 x). */
        private double[] moe(String p, double[] b) {
            double[] probs = softmax(matvec(w(p + "gate.weight"), b, EXPERTS));
            boolean[] chosen = new boolean[EXPERTS];
            double total = 0;
            for (int j = 0; j < TOP_K; j++) {
                int best = -1;
                for (int e = 0; e < EXPERTS; e++) if (!chosen[e] && (best < 0 || probs[e] > probs[best])) best = e;
                chosen[best] = true;
                total += probs[best];
            }
            double[] y = new double[H];
            for (int e = 0; e < EXPERTS; e++) {
                if (!chosen[e]) continue;
                String ex = p + "experts." + e + ".";
                double[] g = matvec(w(ex + "w1.weight"), b, INTER), u = matvec(w(ex + "w3.weight"), b, INTER);
                for (int i = 0; i < INTER; i++) g[i] = g[i] / (1 + Math.exp(-g[i])) * u[i];
                double[] down = matvec(w(ex + "w2.weight"), g, H);
                for (int c = 0; c < H; c++) y[c] += (renormalise ? probs[e] / total : probs[e]) * down[c];
            }
            return y;
        }

        private static double[] matvec(double[] m, double[] x, int rows) {
            double[] y = new double[rows];
            for (int r = 0; r < rows; r++) for (int c = 0; c < x.length; c++) y[r] += m[r * x.length + c] * x[c];
            return y;
        }

        private static double[] rms(double[] x, double[] g) {
            double ss = 0;
            for (double v : x) ss += v * v;
            double inv = 1 / Math.sqrt(ss / x.length + EPS);
            double[] y = new double[x.length];
            for (int i = 0; i < x.length; i++) y[i] = x[i] * inv * g[i];
            return y;
        }

        /** rotate_half RoPE per head: pairs (i, i + D/2) with angle pos · θ^(-2i/D). */
        private static double[] rope(double[] v, int heads, int pos) {
            double[] y = v.clone();
            for (int head = 0; head < heads; head++) {
                for (int i = 0; i < D / 2; i++) {
                    double a = pos * Math.pow(THETA, -2.0 * i / D);
                    double x0 = v[head * D + i], x1 = v[head * D + i + D / 2];
                    y[head * D + i] = x0 * Math.cos(a) - x1 * Math.sin(a);
                    y[head * D + i + D / 2] = x1 * Math.cos(a) + x0 * Math.sin(a);
                }
            }
            return y;
        }

        private static double[] softmax(double[] s) {
            double max = Double.NEGATIVE_INFINITY, sum = 0;
            for (double v : s) max = Math.max(max, v);
            double[] p = new double[s.length];
            for (int i = 0; i < s.length; i++) sum += p[i] = Math.exp(s[i] - max);
            for (int i = 0; i < s.length; i++) p[i] /= sum;
            return p;
        }
    }
}
