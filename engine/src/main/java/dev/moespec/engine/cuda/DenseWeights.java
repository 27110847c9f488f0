package dev.moespec.engine.cuda;

import dev.moespec.api.config.ModelConfig;
import dev.moespec.cuda.CudaContext;
import dev.moespec.engine.loader.Checkpoint;
import dev.moespec.engine.loader.MoeDecoderLayout;
import dev.moespec.engine.model.HostWeights;
import dev.moespec.engine.model.Ops;


/**
 * Every weight of the model except the experts, uploaded once: projections (Q, K and V fused into one
 * {@code [(nH + 2·nKV)·d, H]} matrix, O) and lm_head as BF16 for cuBLAS (FP8 block weights dequantised first);
 * norms, the embedding table and the router in fp32 (the router decides which experts run, so it is kept exact).
 */
final class DenseWeights implements AutoCloseable {

    /** One layer's device pointers; {@code qNorm}/{@code kNorm} are 0 for layouts without q/k norm. */
    record Layer(long inputNorm, long postNorm, long qkv, long o, long qNorm, long kNorm, long router) {}

    private final DeviceArrays arrays;
    final long embed, finalNorm, lmHead, invFreq;
    final Layer[] layers;

    DenseWeights(CudaContext ctx, Checkpoint c, MoeDecoderLayout.Naming naming) {
        ModelConfig cfg = c.config();
        int h = cfg.hiddenSize(), nH = cfg.numAttentionHeads(), nKV = cfg.numKeyValueHeads(), d = cfg.headDim();
        arrays = new DeviceArrays(ctx);
        try {
            float[] embedValues = HostWeights.vector(c, naming.embed());
            embed = arrays.f32(embedValues);
            finalNorm = arrays.f32(HostWeights.vector(c, naming.finalNorm()));
            lmHead = arrays.bf16(cfg.tieWordEmbeddings() ? embedValues : HostWeights.vector(c, naming.lmHead()));
            invFreq = arrays.f32(Ops.invFreq(d, cfg.ropeTheta())); // as the CPU path computes it
            layers = new Layer[cfg.numHiddenLayers()];
            for (int i = 0; i < layers.length; i++) {
                float[] q = HostWeights.matrix(c, naming.attn(i, "q")), k = HostWeights.matrix(c, naming.attn(i, "k")),
                        v = HostWeights.matrix(c, naming.attn(i, "v"));
                check(q.length == nH * d * h && k.length == nKV * d * h && v.length == nKV * d * h, c, naming.attn(i, "q"),
                        "q/k/v projections are not [nH*d, H] / [nKV*d, H] for the config's sizes");
                layers[i] = new Layer(arrays.f32(HostWeights.vector(c, naming.inputNorm(i))),
                        arrays.f32(HostWeights.vector(c, naming.postAttnNorm(i))), arrays.bf16(DeviceArrays.concat(q, k, v)),
                        arrays.bf16(HostWeights.matrix(c, naming.attn(i, "o"))),
                        naming.hasQkNorm() ? arrays.f32(HostWeights.vector(c, naming.qNorm(i))) : 0L,
                        naming.hasQkNorm() ? arrays.f32(HostWeights.vector(c, naming.kNorm(i))) : 0L,
                        arrays.f32(HostWeights.matrix(c, naming.router(i))));
            }
        } catch (RuntimeException e) {
            close();
            throw e;
        }
    }

    private static void check(boolean ok, Checkpoint c, String name, String what) {
        if (!ok) throw new dev.moespec.engine.loader.CheckpointException(c.fileOf(name), name, what);
    }

    @Override
    public void close() {
        arrays.close();
    }
}
