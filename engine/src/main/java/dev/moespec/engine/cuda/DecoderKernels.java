package dev.moespec.engine.cuda;

import dev.moespec.cuda.CudaContext;
import dev.moespec.cuda.CudaFunction;
import dev.moespec.cuda.CudaModule;
import dev.moespec.cuda.Dim3;
import dev.moespec.cuda.KernelArgs;

/**
 * Typed launches of the engine's own kernels ({@code engine/src/main/cuda/decoder.cu} and the fused small-batch
 * projections of {@code head_linear.cu}: the drafter heads' and the target's router, shipped as
 * {@code META-INF/moespec/kernels/moespec-engine.fatbin}).
 * Every pointer is a device address; {@code 0} means "absent" where the kernel allows it.
 */
final class DecoderKernels {
    static final String ARTIFACT_ID = "moespec-engine";
    /** Tokens per KV block; {@code KV_BLOCK} in decoder.cu. */
    static final int KV_BLOCK = 16;
    /** Largest head_dim the attention and RoPE kernels take (8 elements per lane, one 256-wide head in shared memory). */
    static final int MAX_HEAD_DIM = 256;

    /** Rows one block of the {@code head_linear.cu} kernels stages ({@code HL_ROWS} there). */
    static final int HL_ROWS = 8;
    private static final int HL_WARPS = 8, HL_THREADS = 32 * HL_WARPS;
    /** Threads of an attention block: 32 * ATT_WARPS of decoder.cu. */
    private static final int ATTENTION_THREADS = 256;
    /** Dynamic shared memory a kernel may take without an opt-in. */
    private static final int SMEM_LIMIT = 48 * 1024;

    private final CudaFunction embed, rmsnorm, qkvRopeAppend, attention, addBf16, sample, siluMul,
            draftFirst, specAccept, draftSiblings, hlCombine, hlQkvRope, hlAdd, hlSwiglu, hlNormRouter, hlLmHead, medusaBlocks, medusaLogits;

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
        draftFirst = module.function("es_draft_first");
        specAccept = module.function("es_spec_accept");
        draftSiblings = module.function("es_draft_siblings");
        hlCombine = module.function("es_hl_combine");
        hlQkvRope = module.function("es_hl_qkv_rope");
        hlAdd = module.function("es_hl_add");
        hlSwiglu = module.function("es_hl_swiglu");
        hlNormRouter = module.function("es_hl_norm_router");
        hlLmHead = module.function("es_hl_lm_head");
        medusaBlocks = module.function("es_medusa_blocks");
        medusaLogits = module.function("es_medusa_logits");
    }

    /**
     * Whether the {@code head_linear.cu} kernels take a head of these widths (hidden, head_dim, query heads, dense
     * intermediate or 0): every staged input a multiple of 8 and each kernel's shared memory within 48 KiB.
     */
    static boolean headLinearFits(int h, int d, int nH, int inter) {
        int attn = nH * d;
        return h % 8 == 0 && attn % 8 == 0 && inter % 8 == 0 && d <= 1024
                && Math.max(Math.max(combineSmem(h), qkvSmem(h, d)), Math.max(normedSmem(h), addSmem(Math.max(attn, inter))))
                <= SMEM_LIMIT;
    }

    /** Whether the router with its norm runs as {@code es_hl_norm_router} for this hidden size. */
    static boolean normRouterFits(int h) {
        return h % 8 == 0 && normedSmem(h) <= SMEM_LIMIT;
    }

    // shared memory of each head_linear.cu kernel, as the kernel comments give it
    private static int combineSmem(int h) { return 4 * (HL_ROWS + 1) * 2 * h; }
    private static int qkvSmem(int h, int d) { return 4 * (HL_ROWS * (h + d) + h); }
    private static int normedSmem(int h) { return 4 * (HL_ROWS + 1) * h; }
    private static int addSmem(int k) { return 4 * HL_ROWS * k; }

    /** Whether this jar carries the engine fatbin (built with nvcc). */
    static boolean present() {
        return CudaModule.hasKernels(DecoderKernels.class.getClassLoader(), ARTIFACT_ID);
    }

    static DecoderKernels load(CudaContext ctx) {
        return new DecoderKernels(CudaModule.fromResource(ctx, DecoderKernels.class.getClassLoader(),
                CudaModule.kernelResource(ARTIFACT_ID)));
    }

    /**
     * Every launch is a programmatic dependent launch where the device has it (sm_90+): each kernel launched here
     * begins with {@code pdl_launch}/{@code pdl_wait} (common.cuh), so the next kernel's launch, and the weight loads
     * the {@code head_linear.cu} kernels issue before their wait, overlap the kernel before. Measured on the H100 in a
     * graph of 100 launches: 1.03 → 0.84 µs a trivial kernel; a step's other kernels (cuBLAS, the MoE backend) are
     * launched the ordinary way and are waited for in full.
     */
    private static void launch(CudaFunction f, Dim3 grid, Dim3 block, int sharedBytes, long stream, KernelArgs args) {
        f.launchProgrammatic(grid, block, sharedBytes, stream, args);
    }

    void embed(long stream, int rows, long tokens, long table, long x, int h) {
        launch(embed, Dim3.of(rows), Dim3.of(256), 0, stream, KernelArgs.create().ptr(tokens).ptr(table).ptr(x).i32(h));
    }

    void rmsnorm(long stream, int rows, long x, long add, long rowIndex, long w, float eps, int h, long outBf16, long outF32) {
        launch(rmsnorm, Dim3.of(rows), Dim3.of(256), 0, stream, KernelArgs.create().ptr(x).ptr(add).ptr(rowIndex).ptr(w)
                .f32(eps).i32(h).ptr(outBf16).ptr(outF32));
    }

    /** rowBack (0: none): how far each row's slot lies past its logical position; see decoder.cu's row metadata. */
    void qkvRopeAppend(long stream, int rows, long qkv, long qNorm, long kNorm, long invFreq, long rowPos, long rowBack,
                       long rowTable, long blockTables, float eps, int nH, int nKV, int d, long qOut, long kCache,
                       long vCache) {
        int threads = Math.max(32, (d + 31) / 32 * 32);
        launch(qkvRopeAppend, Dim3.of(rows, nH + 2 * nKV), Dim3.of(threads), 0, stream, KernelArgs.create().ptr(qkv)
                .ptr(qNorm).ptr(kNorm).ptr(invFreq).ptr(rowPos).ptr(rowBack).ptr(rowTable).ptr(blockTables).f32(eps)
                .i32(nH).i32(nKV).i32(d).ptr(qOut).ptr(kCache).ptr(vCache));
    }

    /** rowBack (0: causal): a row attends to keys 0..rowPos-rowBack-1 and its own slot at rowPos. */
    void attention(long stream, int rows, long q, long kCache, long vCache, long rowPos, long rowBack, long rowTable,
                   long blockTables, int nH, int nKV, int d, float scale, long out) {
        launch(attention, Dim3.of(rows, nH), Dim3.of(ATTENTION_THREADS), 0, stream, KernelArgs.create().ptr(q).ptr(kCache)
                .ptr(vCache).ptr(rowPos).ptr(rowBack).ptr(rowTable).ptr(blockTables).i32(nH).i32(nKV).i32(d).f32(scale)
                .ptr(out));
    }

    void addBf16(long stream, long x, long add, long n) {
        int blocks = (int) Math.max(1, Math.min((n + 255) / 256, 1024));
        launch(addBf16, Dim3.of(blocks), Dim3.of(256), 0, stream, KernelArgs.create().ptr(x).ptr(add).i64(n));
    }

    /** params: {@code [rows][temperature, top_p, u]} floats; topK: {@code [rows]} ints. */
    void sample(long stream, int rows, long logits, int vocab, long params, long topK, long out) {
        launch(sample, Dim3.of(rows), Dim3.of(256), 0, stream, KernelArgs.create().ptr(logits).i32(vocab).ptr(params)
                .ptr(topK).ptr(out));
    }

    /** {@code out[r] = silu(gu[r, :inter]) * gu[r, inter:]} as bf16 (the dense SwiGLU of the EAGLE head). */
    void siluMul(long stream, int rows, long gu, int inter, long outBf16) {
        launch(siluMul, Dim3.of(rows), Dim3.of(256), 0, stream, KernelArgs.create().ptr(gu).i32(inter).ptr(outBf16));
    }

    /**
     * The first link of an on-device greedy drafting chain: {@code packed[c]} = the argmax key of logits row
     * {@code logitRows[c]} for each of {@code chunks} chunks (decoded by {@link #argmaxId}).
     */
    void draftFirst(long stream, int chunks, long logits, int vocab, long logitRows, long packed) {
        launch(draftFirst, Dim3.of(chunks), Dim3.of(256), 0, stream, KernelArgs.create().ptr(logits).i32(vocab)
                .ptr(logitRows).ptr(packed));
    }

    /**
     * The verdict of a greedy verification and the first draft after it ({@code es_spec_accept}): per chain row, the
     * drafts accepted (with {@link #SIBLING_ACCEPTED} when the last is a sibling) and the bonus token into
     * {@code verdict}, the first draft's key (from {@code rowKeys}, the argmax key of every row of the head's first
     * step) into {@code packed}, and the chain's start row and link positions (in {@code chain}, {@code cap} ints a
     * block: the target's positions plus the accepted count). An accepted sibling's k and v move to its position in
     * the target's cache and the head's.
     */
    void specAccept(long stream, int chainRows, long tokens, long sampled, long positions, int t, int siblings, int real,
                    long rowKeys, long chain, int cap, int steps, long verdict, long packed, QueuedPass.KvSlots target, QueuedPass.KvSlots head,
                    int kvw) {
        launch(specAccept, Dim3.of(chainRows), Dim3.of(32), 0, stream, KernelArgs.create().ptr(tokens).ptr(sampled)
                .ptr(positions).i32(t).i32(siblings).i32(real).ptr(rowKeys).ptr(chain).i32(cap).i32(steps).ptr(verdict)
                .ptr(packed).ptr(target.keys()).ptr(target.values()).i64(target.layerStride()).i32(target.layers())
                .ptr(target.rowTables()).ptr(target.blockTables()).ptr(head.keys()).ptr(head.values())
                .ptr(head.rowTables()).ptr(head.blockTables()).i32(kvw));
    }

    /** The flag in a fused round's accepted count when its last accepted draft is a sibling (head_linear.cu). */
    static final int SIBLING_ACCEPTED = 0x10000;

    /**
     * The next round's sibling drafts ({@code es_draft_siblings}): per chain row and depth below {@code depths}, the
     * second-best key of the logits that gave the draft at that depth (depth 0: the first step's row the chain starts
     * from; depth j: link j's, at logits row {@code linkRows + (j - 1) * chainRows + c}) into {@code packed}
     * ({@code stride} keys a depth).
     */
    void draftSiblings(long stream, int chainRows, int depths, long logits, int vocab, long chain, int cap, int linkRows,
                       long packed, int stride) {
        launch(draftSiblings, Dim3.of(chainRows, depths), Dim3.of(256), 0, stream, KernelArgs.create().ptr(logits)
                .i32(vocab).ptr(chain).i32(cap).i32(linkRows).i32(chainRows).ptr(packed).i32(stride));
    }

    /** The token an argmax key of {@code head_linear.cu} holds ({@code hl_argmax_id}): 0 for an empty slot. */
    static int argmaxId(long key) {
        return key == 0 ? 0 : (int) (0xffffffffL - (key & 0xffffffffL));
    }

    private static Dim3 hlGrid(int columnTiles, int rows) {
        return Dim3.of(columnTiles, (rows + HL_ROWS - 1) / HL_ROWS);
    }

    private static int tiles(int columns) {
        return (columns + HL_WARPS - 1) / HL_WARPS;
    }

    /**
     * {@code x[i] = [e_i | f_i] . w^T} (w {@code [h, 2h]} fp32): e the embedding of {@code tokens[i]} (or of the argmax
     * in {@code packed[i]}), f feature row {@code featRows[i]} (or i); each half RMSNormed by enorm / hnorm when given.
     * With {@code embedProj} (the embedding half per token, {@code [vocab, h]} fp32, or 0) that half is looked up, not
     * projected: {@code x[i] = embedProj[token] + f_i . w[:, h:]^T}. {@code reset}: argmax slots zeroed for the rows.
     * {@code fill} (or 0): a negative token {@code -1 - j} is the int {@code fill[j]}.
     */
    void hlCombine(long stream, int rows, long tokens, long packed, long fill, long embed, long embedProj, long feat,
                   long featRows, long enorm, long hnorm, float eps, int h, long w, long x, long reset) {
        launch(hlCombine, hlGrid(tiles(h), rows), Dim3.of(HL_THREADS), combineSmem(h), stream, KernelArgs.create()
                .i32(rows).ptr(tokens).ptr(packed).ptr(fill).ptr(embed).ptr(embedProj).ptr(feat).ptr(featRows)
                .ptr(enorm).ptr(hnorm).f32(eps).i32(h).ptr(w).ptr(x).ptr(reset));
    }

    /**
     * A step's input gathered instead of projected by {@link #hlCombine}: {@code x[i] = embedProj[token_i] +
     * projected[rows[i]]} (rows 0: row i), token_i = {@code tokens[i]} or (tokens 0) the argmax in {@code packed[i]},
     * projected the feature half a {@link FeatureProjection} left; {@code reset}: argmax slots zeroed for the rows.
     */
    record LinkGather(long tokens, long packed, long embedProj, long projected, long rows, long reset) {
        static final LinkGather NONE = new LinkGather(0, 0, 0, 0, 0, 0);
    }

    /**
     * rmsnorm(x) . wqkv^T, then per head as {@link #qkvRopeAppend}: q/k norm, RoPE, q out, k and v into the cache. With
     * a {@code gather} (not {@link LinkGather#NONE}) the rows are gathered and written to x first.
     */
    void hlQkvRope(long stream, int rows, long x, long normW, float eps, int h, long w, long qNorm, long kNorm,
                   long invFreq, long rowPos, long rowBack, long rowTable, long blockTables, int nH, int nKV, int d,
                   long qOut, long kCache, long vCache, LinkGather gather) {
        int threads = 32 * Math.max(HL_ROWS, Math.min(32, d)); // a warp per column of the head, up to 32
        launch(hlQkvRope, hlGrid(nH + 2 * nKV, rows), Dim3.of(threads), qkvSmem(h, d), stream,
                KernelArgs.create().i32(rows).ptr(x).ptr(normW).f32(eps).i32(h).ptr(w).ptr(qNorm).ptr(kNorm)
                        .ptr(invFreq).ptr(rowPos).ptr(rowBack).ptr(rowTable).ptr(blockTables).i32(nH).i32(nKV).i32(d).ptr(qOut)
                        .ptr(kCache).ptr(vCache).ptr(gather.tokens()).ptr(gather.packed()).ptr(gather.embedProj())
                        .ptr(gather.projected()).ptr(gather.rows()).ptr(gather.reset()));
    }

    /** {@code x[i] += a[i] . w^T}: a {@code [rows, k]} bf16, w {@code [n, k]} bf16, x {@code [rows, n]} fp32. */
    void hlAdd(long stream, int rows, long a, int k, long w, int n, long x) {
        launch(hlAdd, hlGrid(tiles(n), rows), Dim3.of(HL_THREADS), addSmem(k), stream, KernelArgs.create()
                .i32(rows).ptr(a).i32(k).ptr(w).i32(n).ptr(x));
    }

    /** {@code act[i] = silu(g) * u} (bf16) of {@code rmsnorm(x[i]) . w^T}, w {@code [2 inter, h]} gate rows first. */
    void hlSwiglu(long stream, int rows, long x, long normW, float eps, int h, long w, int inter, long act) {
        launch(hlSwiglu, hlGrid(tiles(inter), rows), Dim3.of(HL_THREADS), normedSmem(h), stream, KernelArgs.create()
                .i32(rows).ptr(x).ptr(normW).f32(eps).i32(h).ptr(w).i32(inter).ptr(act));
    }

    /** {@code a = bf16(rmsnorm(x))} and {@code out = rmsnorm(x) . w^T} (w {@code [n, h]} fp32, the MTP router). */
    void hlNormRouter(long stream, int rows, long x, long normW, float eps, int h, long w, int n, long out, long a) {
        launch(hlNormRouter, hlGrid(tiles(n), rows), Dim3.of(HL_THREADS), normedSmem(h), stream, KernelArgs.create()
                .i32(rows).ptr(x).ptr(normW).f32(eps).i32(h).ptr(w).i32(n).ptr(out).ptr(a));
    }

    /**
     * The feature half of the head's input projection, computed for the next drafting link beside the logits
     * ({@link #hlLmHead}): {@code out[i] = norm(x[i]) . w^T} for {@code rows} rows of x (w {@code [h, h]} fp32 rows
     * {@code ld} floats apart; norm optional).
     */
    record FeatureProjection(int rows, long w, int ld, long norm, long out) {
        static final FeatureProjection NONE = new FeatureProjection(0, 0, 0, 0, 0);
    }

    /**
     * {@code logits[i] = rmsnorm(x[xRows[i]]) . w^T} (xRows 0: row i); {@code best} (or 0): each row's argmax key
     * merged into a zeroed slot; {@code next} (or {@link FeatureProjection#NONE}) in the same launch.
     */
    void hlLmHead(long stream, int rows, long x, long xRows, long normW, float eps, int h, long w, int vocab, long logits,
                  long best, FeatureProjection next) {
        int tiles = tiles(vocab) + (next.w() != 0 ? tiles(h) : 0);
        launch(hlLmHead, hlGrid(tiles, Math.max(rows, next.rows())), Dim3.of(HL_THREADS), normedSmem(h), stream,
                KernelArgs.create().i32(rows).ptr(x).ptr(xRows).ptr(normW).f32(eps).i32(h).ptr(w).i32(vocab).ptr(logits)
                        .ptr(best).i32(next.rows()).ptr(next.w()).i32(next.ld()).ptr(next.norm()).ptr(next.out()));
    }

    /** The {@link FeatureProjection} of {@code x} alone ({@code es_hl_lm_head} without logits). */
    void hlProject(long stream, long x, float eps, int h, FeatureProjection p) {
        hlLmHead(stream, 0, x, 0, 0, eps, h, 0, 0, 0, 0, p);
    }

    /** Largest hidden size the Medusa kernels stage (a row and the norm weight, fp32, in 48 KiB of shared memory). */
    static final int MEDUSA_MAX_HIDDEN = SMEM_LIMIT / 8;

    /**
     * Every Medusa head's ResBlock: {@code r[c] = hn[c % h] + silu(hn . w[c] + bias[c])} with {@code hn} the RMSNormed
     * feature, w the stacked {@code [heads * h, h]} fp32 weights.
     */
    void medusaBlocks(long stream, long feature, long normW, float eps, int h, int heads, long w, long bias, long r) {
        launch(medusaBlocks, Dim3.of(tiles(heads * h)), Dim3.of(HL_THREADS), 8 * h, stream, KernelArgs.create()
                .ptr(feature).ptr(normW).f32(eps).i32(h).i32(heads).ptr(w).ptr(bias).ptr(r));
    }

    /**
     * Every head's logits {@code logits[i] = r[i] . w_i^T}: w a device table of the heads' lm_head addresses
     * ({@code [vocab, h]} fp32 each).
     */
    void medusaLogits(long stream, long r, int h, int heads, long w, int vocab, long logits) {
        launch(medusaLogits, Dim3.of(tiles(vocab), heads), Dim3.of(HL_THREADS), 4 * h, stream, KernelArgs.create()
                .ptr(r).i32(h).ptr(w).i32(vocab).ptr(logits));
    }
}
