package dev.moespec.engine.cuda;

import dev.moespec.cuda.CudaContext;
import dev.moespec.cuda.CudaFunction;
import dev.moespec.cuda.CudaModule;
import dev.moespec.cuda.Dim3;
import dev.moespec.cuda.KernelArgs;

/**
 * Typed launches of the engine's own kernels ({@code engine/src/main/cuda/decoder.cu}, shipped as
 * {@code META-INF/moespec/kernels/moespec-engine.fatbin}). Every pointer is a device address; {@code 0} means
 * "absent" where the kernel allows it.
 */
final class DecoderKernels {
    static final String ARTIFACT_ID = "moespec-engine";
    /** Tokens per KV block; {@code KV_BLOCK} in decoder.cu. */
    static final int KV_BLOCK = 16;
    /** Largest head_dim the attention and RoPE kernels take (8 elements per lane, one 256-wide head in shared memory). */
    static final int MAX_HEAD_DIM = 256;

    private final CudaFunction embed, rmsnorm, qkvRopeAppend, attention, addBf16, sample, siluMul, biasSiluResidual, draftNext;

    /**
     * Fails with what to do instead when the attention and RoPE kernels cannot take these heads ({@code what} names the
     * model in the message): head_dim even and at most {@link #MAX_HEAD_DIM}, query heads a multiple of KV heads.
     */
    static void requireAttentionShape(int d, int nH, int nKV, String what) {
        if (d > MAX_HEAD_DIM || d % 2 != 0) {
            throw new IllegalArgumentException("head_dim " + d + " of " + what + " is not supported by the CUDA attention"
                    + " kernels (even, at most " + MAX_HEAD_DIM + "); run with --device cpu");
        }
        if (nH % nKV != 0) {
            throw new IllegalArgumentException("num_attention_heads " + nH + " of " + what
                    + " is not a multiple of num_key_value_heads " + nKV + "; run with --device cpu");
        }
    }

    private DecoderKernels(CudaModule module) {
        embed = module.function("es_embed");
        rmsnorm = module.function("es_rmsnorm");
        qkvRopeAppend = module.function("es_qkv_rope_append");
        attention = module.function("es_attention");
        addBf16 = module.function("es_add_bf16");
        sample = module.function("es_sample");
        siluMul = module.function("es_silu_mul");
        biasSiluResidual = module.function("es_bias_silu_residual");
        draftNext = module.function("es_draft_next");
    }

    /** Whether this jar carries the engine fatbin (built with nvcc). */
    static boolean present() {
        return CudaModule.hasKernels(DecoderKernels.class.getClassLoader(), ARTIFACT_ID);
    }

    static DecoderKernels load(CudaContext ctx) {
        return new DecoderKernels(CudaModule.fromResource(ctx, DecoderKernels.class.getClassLoader(),
                CudaModule.kernelResource(ARTIFACT_ID)));
    }

    void embed(long stream, int rows, long tokens, long table, long x, int h) {
        embed.launch(Dim3.of(rows), Dim3.of(256), 0, stream, KernelArgs.create().ptr(tokens).ptr(table).ptr(x).i32(h));
    }

    void rmsnorm(long stream, int rows, long x, long add, long rowIndex, long w, float eps, int h, long outBf16, long outF32) {
        rmsnorm.launch(Dim3.of(rows), Dim3.of(256), 0, stream, KernelArgs.create().ptr(x).ptr(add).ptr(rowIndex).ptr(w)
                .f32(eps).i32(h).ptr(outBf16).ptr(outF32));
    }

    void qkvRopeAppend(long stream, int rows, long qkv, long qNorm, long kNorm, long invFreq, long rowPos, long rowTable,
                       long blockTables, float eps, int nH, int nKV, int d, long qOut, long kCache, long vCache) {
        int threads = Math.max(32, (d + 31) / 32 * 32);
        qkvRopeAppend.launch(Dim3.of(rows, nH + 2 * nKV), Dim3.of(threads), 0, stream, KernelArgs.create().ptr(qkv)
                .ptr(qNorm).ptr(kNorm).ptr(invFreq).ptr(rowPos).ptr(rowTable).ptr(blockTables).f32(eps).i32(nH).i32(nKV)
                .i32(d).ptr(qOut).ptr(kCache).ptr(vCache));
    }

    void attention(long stream, int rows, long q, long kCache, long vCache, long rowPos, long rowTable, long blockTables,
                   int nH, int nKV, int d, float scale, long out) {
        attention.launch(Dim3.of(rows, nH), Dim3.of(128), 0, stream, KernelArgs.create().ptr(q).ptr(kCache).ptr(vCache)
                .ptr(rowPos).ptr(rowTable).ptr(blockTables).i32(nH).i32(nKV).i32(d).f32(scale).ptr(out));
    }

    void addBf16(long stream, long x, long add, long n) {
        int blocks = (int) Math.max(1, Math.min((n + 255) / 256, 1024));
        addBf16.launch(Dim3.of(blocks), Dim3.of(256), 0, stream, KernelArgs.create().ptr(x).ptr(add).i64(n));
    }

    /** params: {@code [rows][temperature, top_p, u]} floats; topK: {@code [rows]} ints. */
    void sample(long stream, int rows, long logits, int vocab, long params, long topK, long out) {
        sample.launch(Dim3.of(rows), Dim3.of(256), 0, stream, KernelArgs.create().ptr(logits).i32(vocab).ptr(params)
                .ptr(topK).ptr(out));
    }

    /** {@code out[r] = silu(gu[r, :inter]) * gu[r, inter:]} as bf16 (the dense SwiGLU of the EAGLE head). */
    void siluMul(long stream, int rows, long gu, int inter, long outBf16) {
        siluMul.launch(Dim3.of(rows), Dim3.of(256), 0, stream, KernelArgs.create().ptr(gu).i32(inter).ptr(outBf16));
    }

    /**
     * One link of an on-device greedy drafting chain: for each of {@code chunks} chunks, {@code drafts[c]} and
     * {@code tokens[c]} = argmax of logits row {@code logitRows[c]}, {@code feat[c]} = hidden row {@code xRows[c]};
     * {@code tokens} and {@code feat} may be 0.
     */
    void draftNext(long stream, int chunks, long logits, int vocab, long logitRows, long x, int h, long xRows, long drafts,
                   long tokens, long feat) {
        draftNext.launch(Dim3.of(chunks), Dim3.of(256), 0, stream, KernelArgs.create().ptr(logits).i32(vocab).ptr(logitRows)
                .ptr(x).i32(h).ptr(xRows).ptr(drafts).ptr(tokens).ptr(feat));
    }

    /** Medusa ResBlocks: {@code r[i] = hn + silu(t[i] + bias[i])} for {@code heads} heads, fp32. */
    void biasSiluResidual(long stream, int heads, long t, long bias, long hn, int h, long r) {
        biasSiluResidual.launch(Dim3.of(heads), Dim3.of(256), 0, stream, KernelArgs.create().ptr(t).ptr(bias).ptr(hn).i32(h)
                .ptr(r));
    }
}
