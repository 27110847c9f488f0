// Fused small-batch projections of the drafter heads (the EAGLE head and the MTP layer, FORMAT.md sections 5.1-5.2)
// and the target's router. A drafting step has a handful of rows, so a cuBLAS GEMM plus the elementwise kernel after
// it is two launches of a few microseconds each for almost no work. Each kernel here takes one projection and what
// surrounds it:
//   - each warp owns output columns and loads the first chunks of their weight rows into registers before it waits
//     for the previous kernel (pdl_wait), so under a programmatic launch that load overlaps the previous kernel;
//   - stages the block's HL_ROWS input rows in shared memory, with the RMSNorm before the projection computed per
//     block (one warp per row; every block recomputes it, which costs far less than another launch);
//   - dots the warp's columns against all staged rows; lane r then writes row r;
//   - applies the step after the projection itself: RoPE and the KV append, the residual add, SwiGLU, or the argmax.
// GEMM inputs are rounded to bf16 where the weight is bf16 (as the cuBLAS path feeds its BF16 GEMMs); fp32 weights
// (fc / eh_proj, the router) take fp32 inputs. Accumulation is fp32, in the same order whatever the row count, so a
// row's result does not depend on the rows beside it.
// grid (column tiles, row groups of HL_ROWS), block HL_WARPS * 32 (es_hl_qkv_rope: see there); dynamic shared memory
// as each kernel says. Input widths are multiples of 8 (checked by the caller, DecoderKernels).
#include "common.cuh"

#define HL_ROWS 8
#define HL_WARPS 8

// The first P 16-byte chunks of one lane's share of a weight row (chunk i at byte (32 i + lane) * 16): loaded before
// the dependency wait. P = 2 covers a bf16 row of 512 or an fp32 row of 256; longer rows load the rest as they go.
template <int P>
struct HlPre {
    uint4 c[P];
};

template <int P>
__device__ __forceinline__ HlPre<P> hl_preload(const void* __restrict__ row, int bytes) {
    HlPre<P> pre;
    int lane = threadIdx.x & 31;
#pragma unroll
    for (int i = 0; i < P; i++) {
        int off = (32 * i + lane) * 16;
        pre.c[i] = off < bytes ? __ldg(reinterpret_cast<const uint4*>(static_cast<const char*>(row) + off))
                               : make_uint4(0u, 0u, 0u, 0u);
    }
    return pre;
}

// The 8 bf16 of a 16-byte chunk as floats.
__device__ __forceinline__ void hl_unpack8(uint4 raw, float* out) {
    const __nv_bfloat162* h2 = reinterpret_cast<const __nv_bfloat162*>(&raw);
#pragma unroll
    for (int i = 0; i < 4; i++) {
        float2 f = __bfloat1622float2(h2[i]);
        out[2 * i] = f.x;
        out[2 * i + 1] = f.y;
    }
}

// acc[r] += in[r, k..k+8) . (8 bf16 in raw), for the first nr of the HL_ROWS staged rows (the block's real ones).
__device__ __forceinline__ void hl_chunk(const float* in, int K, int nr, int k, uint4 raw, const __nv_bfloat16*, float* acc) {
    float wv[8];
    hl_unpack8(raw, wv);
#pragma unroll
    for (int r = 0; r < HL_ROWS; r++) {
        if (r >= nr) break;
        const float4* x = reinterpret_cast<const float4*>(in + r * K + k);
        float4 a = x[0], b = x[1];
        acc[r] += a.x * wv[0] + a.y * wv[1] + a.z * wv[2] + a.w * wv[3] + b.x * wv[4] + b.y * wv[5] + b.z * wv[6]
                + b.w * wv[7];
    }
}

// acc[r] += in[r, k..k+4) . (4 fp32 in raw).
__device__ __forceinline__ void hl_chunk(const float* in, int K, int nr, int k, uint4 raw, const float*, float* acc) {
    float4 wv = make_float4(__uint_as_float(raw.x), __uint_as_float(raw.y), __uint_as_float(raw.z), __uint_as_float(raw.w));
#pragma unroll
    for (int r = 0; r < HL_ROWS; r++) {
        if (r >= nr) break;
        float4 a = *reinterpret_cast<const float4*>(in + r * K + k);
        acc[r] += a.x * wv.x + a.y * wv.y + a.z * wv.z + a.w * wv.w;
    }
}

// acc[r] = in[r, :K] . w[:K] for the first nr (>= 1) of the HL_ROWS staged rows (in: [HL_ROWS][K] floats) with the
// row's first chunks in pre, summed over the warp; every lane returns the sums (0 for rows past nr).
template <int P, typename T>
__device__ __forceinline__ void hl_dot(const float* in, int K, int nr, const T* __restrict__ w, const HlPre<P>& pre,
                                       float* acc) {
    constexpr int E = 16 / sizeof(T);  // elements per chunk
    int lane = threadIdx.x & 31;
#pragma unroll
    for (int r = 0; r < HL_ROWS; r++) acc[r] = 0.f;
#pragma unroll
    for (int i = 0; i < P; i++) {
        int k = (32 * i + lane) * E;
        if (k < K) hl_chunk(in, K, nr, k, pre.c[i], w, acc);
    }
    for (int k = (32 * P + lane) * E; k < K; k += 32 * E) {
        hl_chunk(in, K, nr, k, __ldg(reinterpret_cast<const uint4*>(w + k)), w, acc);
    }
#pragma unroll
    for (int r = 0; r < HL_ROWS; r++) {
        if (r >= nr) break;
        acc[r] = warp_sum(acc[r]);
    }
}

// acc[lane] for lane < HL_ROWS (the row this lane writes), without a dynamically indexed register array.
__device__ __forceinline__ float hl_mine(const float* acc) {
    int lane = threadIdx.x & 31;
    float v = 0.f;
#pragma unroll
    for (int r = 0; r < HL_ROWS; r++) if (lane == r) v = acc[r];
    return v;
}

// The block copies a norm weight (K floats, K a multiple of 4) into shared memory: done before the dependency wait,
// since weights do not depend on the previous kernel; a barrier must pass before hl_stage_row reads it.
__device__ __forceinline__ void hl_stage_weight(float* dst, const float* __restrict__ w, int K) {
    if (!w) return;
    for (int k = threadIdx.x * 4; k < K; k += blockDim.x * 4) {
        *reinterpret_cast<float4*>(dst + k) = __ldg(reinterpret_cast<const float4*>(w + k));
    }
}

// One warp, after dst[:K] was staged with ss the lane's sum of its squares: dst *= rsqrt(mean(dst^2) + eps) * w (w
// null: as is; w in shared memory), rounded to bf16 when round.
__device__ __forceinline__ void hl_norm_staged(float* dst, float ss, int K, const float* w, float eps, bool round) {
    int lane = threadIdx.x & 31;
    if (!w && !round) return;
    float inv = w ? rsqrtf(warp_sum(ss) / K + eps) : 1.f;
    for (int k = lane * 4; k < K; k += 128) {
        float4 v = *reinterpret_cast<float4*>(dst + k);
        if (w) {
            float4 g = *reinterpret_cast<const float4*>(w + k);
            v = make_float4(v.x * inv * g.x, v.y * inv * g.y, v.z * inv * g.z, v.w * inv * g.w);
        }
        if (round) {
            v = make_float4(__bfloat162float(__float2bfloat16(v.x)), __bfloat162float(__float2bfloat16(v.y)),
                            __bfloat162float(__float2bfloat16(v.z)), __bfloat162float(__float2bfloat16(v.w)));
        }
        *reinterpret_cast<float4*>(dst + k) = v;
    }
}

// One warp: dst[:K] = src[:K] * rsqrt(mean(src^2) + eps) * w (w null: src as is; w in shared memory), rounded to
// bf16 when round. K a multiple of 4, src and dst 16-byte aligned.
__device__ __forceinline__ void hl_stage_row(float* dst, const float* __restrict__ src, int K, const float* w, float eps,
                                             bool round) {
    int lane = threadIdx.x & 31;
    float ss = 0.f;
    for (int k = lane * 4; k < K; k += 128) {
        float4 v = *reinterpret_cast<const float4*>(src + k);
        *reinterpret_cast<float4*>(dst + k) = v;
        ss += v.x * v.x + v.y * v.y + v.z * v.z + v.w * v.w;
    }
    hl_norm_staged(dst, ss, K, w, eps, round);
}

// Warps 0..HL_ROWS-1: warp r stages row row0 + r of x (input row rows ? rows[i] : i, width K) normed by w (shared
// memory) into in[r]; zeros past n.
__device__ __forceinline__ void hl_stage_norm(float* in, const float* __restrict__ x, const int* __restrict__ rows,
                                              int row0, int n, int K, const float* w, float eps, bool round) {
    int warp = threadIdx.x >> 5, i = row0 + warp;
    if (warp >= HL_ROWS) return;
    float* dst = in + warp * K;
    if (i < n) {
        hl_stage_row(dst, x + (long long)(rows ? rows[i] : i) * K, K, w, eps, round);
    } else {
        for (int k = threadIdx.x & 31; k < K; k += 32) dst[k] = 0.f;
    }
}

// The greedy argmax as one atomicMax-able key: larger logit first, then the lower id (as Argmax.of); NaN never wins
// and -0 equals +0. 0 is below every key, so a zeroed slot is "nothing seen yet".
__device__ __forceinline__ unsigned long long hl_argmax_key(float v, int id) {
    if (v != v) return 0ull;
    unsigned int b = __float_as_uint(v == 0.f ? 0.f : v);
    unsigned int o = (b & 0x80000000u) ? ~b : (b | 0x80000000u);
    return ((unsigned long long)o << 32) | (0xffffffffu - (unsigned int)id);
}

// The id a key holds (0 for an empty slot: an all-NaN row, as Argmax.of).
__device__ __forceinline__ int hl_argmax_id(unsigned long long key) {
    return key == 0ull ? 0 : (int)(0xffffffffu - (unsigned int)(key & 0xffffffffu));
}

// What a kernel loads before its dependency wait: the warp's first weight chunks (wrow, wbytes) and the norm weight
// (into nw_s, shared memory); then it waits for the kernel before it. Returns the chunks for hl_dot.
template <int P>
__device__ __forceinline__ HlPre<P> hl_prologue(float* nw_s, const float* __restrict__ norm_w, int h,
                                                const void* __restrict__ wrow, int wbytes) {
    pdl_launch();
    HlPre<P> pre = hl_preload<P>(wrow, wbytes);
    hl_stage_weight(nw_s, norm_w, h);
    pdl_wait();
    __syncthreads();
    return pre;
}

// The start of a kernel whose input is the normed x: hl_prologue, then the block's rows staged and normed into in.
template <int P>
__device__ __forceinline__ HlPre<P> hl_normed_start(float* in, float* nw_s, const float* __restrict__ x,
                                                    const int* __restrict__ rows, int row0, int n, int h,
                                                    const float* __restrict__ norm_w, float eps, bool round,
                                                    const void* __restrict__ wrow, int wbytes) {
    HlPre<P> pre = hl_prologue<P>(nw_s, norm_w, h, wrow, wbytes);
    hl_stage_norm(in, x, rows, row0, n, h, norm_w ? nw_s : nullptr, eps, round);
    __syncthreads();
    return pre;
}

// A drafting link's input row gathered instead of projected (see es_hl_combine): x_i = etab[token_i] +
// fh[fh_rows ? fh_rows[i] : i], token_i = tokens[i] or (tokens null) the argmax in packed[i]. As hl_normed_start, with
// the rows so gathered; the first column tile also writes them to x_out (the link's residual stream) and zeroes
// reset[i] (the argmax slots of the link's es_hl_lm_head), as es_hl_combine would have.
template <int P>
__device__ __forceinline__ HlPre<P> hl_gathered_start(float* in, float* nw_s, const int* __restrict__ tokens,
                                                      const unsigned long long* __restrict__ packed,
                                                      const float* __restrict__ etab, const float* __restrict__ fh,
                                                      const int* __restrict__ fh_rows, float* __restrict__ x_out,
                                                      unsigned long long* __restrict__ reset, int row0, int n, int h,
                                                      const float* __restrict__ norm_w, float eps, bool round,
                                                      const void* __restrict__ wrow, int wbytes) {
    HlPre<P> pre = hl_prologue<P>(nw_s, norm_w, h, wrow, wbytes);
    int warp = threadIdx.x >> 5, lane = threadIdx.x & 31, i = row0 + warp;
    if (warp < HL_ROWS) {
        float* dst = in + warp * h;
        if (i < n) {
            const float* e = etab + (long long)(tokens ? tokens[i] : hl_argmax_id(packed[i])) * h;
            const float* f = fh + (long long)(fh_rows ? fh_rows[i] : i) * h;
            float* out = blockIdx.x == 0 ? x_out + (long long)i * h : nullptr;
            float ss = 0.f;
            for (int k = lane * 4; k < h; k += 128) {
                float4 a = *reinterpret_cast<const float4*>(e + k), b = *reinterpret_cast<const float4*>(f + k);
                float4 v = make_float4(a.x + b.x, a.y + b.y, a.z + b.z, a.w + b.w);
                *reinterpret_cast<float4*>(dst + k) = v;
                if (out) *reinterpret_cast<float4*>(out + k) = v;
                ss += v.x * v.x + v.y * v.y + v.z * v.z + v.w * v.w;
            }
            if (out && reset && lane == 0) reset[i] = 0ull;
            hl_norm_staged(dst, ss, h, norm_w ? nw_s : nullptr, eps, round);
        } else {
            for (int k = lane; k < h; k += 32) dst[k] = 0.f;
        }
    }
    __syncthreads();
    return pre;
}

// The first link of a drafting chain: packed[c] = the argmax key of logits row logit_rows[c] (a step's logits from
// either path), the next link's token.   grid (chunks), block 256
extern "C" __global__ void es_draft_first(const float* __restrict__ logits, int v, const int* __restrict__ logit_rows,
                                          unsigned long long* __restrict__ packed) {
    pdl_enter();
    __shared__ unsigned long long keys[32];
    const float* row = logits + (long long)logit_rows[blockIdx.x] * v;
    unsigned long long k = 0ull;
    for (int i = threadIdx.x; i < v; i += blockDim.x) {
        unsigned long long ki = hl_argmax_key(row[i], i);
        k = ki > k ? ki : k;
    }
    for (int o = 16; o > 0; o >>= 1) {
        unsigned long long other = __shfl_xor_sync(0xffffffffu, k, o);
        k = other > k ? other : k;
    }
    if ((threadIdx.x & 31) == 0) keys[threadIdx.x >> 5] = k;
    __syncthreads();
    if (threadIdx.x == 0) {
        for (int w = 1; w < (int)(blockDim.x >> 5); w++) k = keys[w] > k ? keys[w] : k;
        packed[blockIdx.x] = k;
    }
}

// A cache slot's address in a paged KV cache (one layer), from the sequence's block table.
__device__ __forceinline__ long long kv_slot(const int* __restrict__ table, int p) {
    return (long long)table[p / KV_BLOCK] * KV_BLOCK + p % KV_BLOCK;
}

// Copies the k and v of slot `from` to slot `to` in `layers` layers (layer stride in floats), one warp. The loads of
// a group of layers are all issued before its stores (the compiler cannot reorder them past stores to the same array).
__device__ __forceinline__ void kv_move(float* __restrict__ kc, float* __restrict__ vc, long long stride, int layers,
                                        int kvw, const int* __restrict__ table, int from, int to) {
    constexpr int GROUP = 8;  // floats a lane holds per array: layers x (kvw / 32) at a time
    long long f = kv_slot(table, from) * kvw, t = kv_slot(table, to) * kvw;
    int per = (kvw + 31) / 32, n = layers * per;
    for (int g0 = 0; g0 < n; g0 += GROUP) {
        float ks[GROUP], vs[GROUP];
#pragma unroll
        for (int g = 0; g < GROUP; g++) {
            int i = g0 + g, l = i / per, e = threadIdx.x + 32 * (i % per);
            bool in = i < n && e < kvw;
            ks[g] = in ? kc[l * stride + f + e] : 0.f;
            vs[g] = in ? vc[l * stride + f + e] : 0.f;
        }
#pragma unroll
        for (int g = 0; g < GROUP; g++) {
            int i = g0 + g, l = i / per, e = threadIdx.x + 32 * (i % per);
            if (i < n && e < kvw) {
                kc[l * stride + t + e] = ks[g];
                vc[l * stride + t + e] = vs[g];
            }
        }
    }
}

// The verdict's accepted count carries this flag when the last accepted draft is a sibling (es_spec_accept).
#define SIBLING_ACCEPTED 0x10000

// A greedy verification's verdict and the next round's first draft, for drafting fused behind the target's pass
// (CudaFeatureHead.draftAfter). Chunk c holds t target rows c*t..: its last committed token, k = t - 1 - sib chain
// drafts, then sib <= k sibling drafts (sibling j, row k + j: the head's second choice where chain draft j was its first,
// at draft j's position in a spare slot, pos + k + j). The head's first step ran over the same rows with entry
// tokens = the target's argmax per row: the entries are right up to the first rejection whatever it is, since an
// accepted draft equals the target's argmax there. So a = the chain drafts accepted (the first i with
// tokens[c*t+1+i] != sampled[c*t+i], found by one warp ballot per 32 drafts); when draft a + 1 has a sibling and the
// target's argmax there equals it, the sibling is accepted too and its row is the last accepted one, whose k and v
// (the target's, every layer, and the head's) move from the spare slot to their position, so the links and the next
// round see them where a chain draft's would be. The bonus is the target's argmax at the last accepted row; the first
// draft is the argmax key of the head's row there (row_keys: the first step's es_hl_lm_head left one per row), and the
// chain's links start from that row: its output row (chain[cap + c]) and link positions (chain[2*j*cap + c] = pos[c*t]
// + accepted + j: the head's entries sit at the target's positions, one behind their tokens). verdict[2c], [2c+1] =
// accepted (| SIBLING_ACCEPTED), bonus. Chunks c >= real (padding) take a = 0.
// tk/tv, t_stride, t_layers: the target's KV cache (layer stride in floats); t_row_table/t_tables: its block tables
// per row; hk/hv, h_row_table/h_tables: the head's (one layer). kvw: floats per slot of either.   grid (chain rows), block 32
extern "C" __global__ void es_spec_accept(const int* __restrict__ tokens, const int* __restrict__ sampled,
                                          const int* __restrict__ pos, int t, int sib, int real,
                                          const unsigned long long* __restrict__ row_keys, int* __restrict__ chain,
                                          int cap, int steps, int* __restrict__ verdict,
                                          unsigned long long* __restrict__ packed, float* __restrict__ tk,
                                          float* __restrict__ tv, long long t_stride, int t_layers,
                                          const int* __restrict__ t_row_table, const int* __restrict__ t_tables,
                                          float* __restrict__ hk, float* __restrict__ hv,
                                          const int* __restrict__ h_row_table, const int* __restrict__ h_tables,
                                          int kvw) {
    pdl_enter();
    int c = blockIdx.x, base = c * t, lane = threadIdx.x, k = t - 1 - sib, a = c < real ? k : 0;
    if (c < real) {
        for (int i0 = 0; i0 < k; i0 += 32) {
            int i = i0 + lane;
            unsigned int miss = __ballot_sync(0xffffffffu, i < k && tokens[base + 1 + i] != sampled[base + i]);
            if (miss) {
                a = i0 + __ffs(miss) - 1;
                break;
            }
        }
    }
    bool sibling = c < real && a < sib && tokens[base + k + 1 + a] == sampled[base + a];
    int last = sibling ? base + k + 1 + a : base + a, accepted = a + (sibling ? 1 : 0), p = pos[base];
    if (sibling) {
        kv_move(tk, tv, t_stride, t_layers, kvw, t_tables + t_row_table[base], p + k + 1 + a, p + 1 + a);
        kv_move(hk, hv, 0, 1, kvw, h_tables + h_row_table[base], p + k + 1 + a, p + 1 + a);
    }
    for (int j = 1 + lane; j < steps; j += 32) chain[2 * j * cap + c] = p + accepted + j;
    if (lane == 0) {
        packed[c] = row_keys[last];
        chain[cap + c] = last;
        verdict[2 * c] = accepted | (sibling ? SIBLING_ACCEPTED : 0);
        verdict[2 * c + 1] = sampled[last];
    }
}

// The next round's sibling drafts: for chain row c and depth j, the second-best key of the logits that gave draft j
// (depth 0: the first step's row chain[cap + c]; depth j >= 1: row link_rows + (j - 1) * chain_rows + c, where link j
// left its logits), into packed[j * stride + c].   grid (chain rows, depths), block SIB_THREADS
#define SIB_THREADS 256
__device__ __forceinline__ void top2_merge(unsigned long long& k1, unsigned long long& k2, unsigned long long o1,
                                           unsigned long long o2) {
    if (o1 > k1) { k2 = k1 > o2 ? k1 : o2; k1 = o1; } else { k2 = k2 > o1 ? k2 : o1; }
}

extern "C" __global__ void __launch_bounds__(SIB_THREADS) es_draft_siblings(const float* __restrict__ logits, int v,
                                                                          const int* __restrict__ chain, int cap,
                                                                          int link_rows, int chain_rows,
                                                                          unsigned long long* __restrict__ packed,
                                                                          int stride) {
    pdl_enter();
    __shared__ unsigned long long s1[SIB_THREADS / 32], s2[SIB_THREADS / 32];
    int c = blockIdx.x, j = blockIdx.y, lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    const float* row = logits + (long long)(j == 0 ? chain[cap + c] : link_rows + (j - 1) * chain_rows + c) * v;
    unsigned long long k1 = 0ull, k2 = 0ull;  // keys are distinct (the id is in them)
    for (int i = threadIdx.x; i < v; i += SIB_THREADS) top2_merge(k1, k2, hl_argmax_key(row[i], i), 0ull);
    for (int o = 16; o > 0; o >>= 1) {
        top2_merge(k1, k2, __shfl_xor_sync(0xffffffffu, k1, o), __shfl_xor_sync(0xffffffffu, k2, o));
    }
    if (lane == 0) {
        s1[warp] = k1;
        s2[warp] = k2;
    }
    __syncthreads();
    if (threadIdx.x == 0) {
        for (int w = 1; w < SIB_THREADS / 32; w++) top2_merge(k1, k2, s1[w], s2[w]);
        packed[(long long)j * stride + c] = k2;
    }
}

// Row i's token: the argmax held in packed[i] when packed, else tokens[i], where a negative one stands for
// fill[-tokens[i] - 1] when fill is given (a catch-up's last entry, whose token the target's prefill has just picked on
// the device).
__device__ __forceinline__ int hl_token(const int* __restrict__ tokens, const unsigned long long* __restrict__ packed,
                                        const int* __restrict__ fill, int i) {
    if (packed) return hl_argmax_id(packed[i]);
    int t = tokens[i];
    return t < 0 && fill ? fill[-t - 1] : t;
}

// The head's input projection: x[i] = [e_i | f_i] . w^T with w [h, 2h] fp32, e_i = embed[token_i] (RMSNorm'd by
// enorm when given: MTP), f_i = feat[feat_rows ? feat_rows[i] : i] (by hnorm when given), token_i as hl_token (a
// drafting chain's previous link: packed). reset (optional): zeroed for the block's rows, the argmax slots of this
// link's lm_head. With etab (the embedding half per token, etab[t] = e_t . w[:, :h]^T, see CudaFeatureHead)
// x[i] = etab[token_i] + f_i . w[:, h:]^T: the same sum as a drafting link gathers from the projection es_hl_lm_head
// left (hl_gathered_start), so both give the same x, exactly.
//   grid (ceil(h / HL_WARPS), row groups), smem (HL_ROWS + 1) * 2h floats
template <bool TABLE>
__device__ __forceinline__ void hl_combine(float* hl_in, int n, const int* __restrict__ tokens,
                                           const unsigned long long* __restrict__ packed, const int* __restrict__ fill,
                                           const float* __restrict__ embed, const float* __restrict__ etab,
                                           const float* __restrict__ feat, const int* __restrict__ feat_rows,
                                           const float* __restrict__ enorm, const float* __restrict__ hnorm, float eps,
                                           int h, const float* __restrict__ w, float* __restrict__ x,
                                           unsigned long long* __restrict__ reset) {
    constexpr int P = TABLE ? 2 : 4;  // the feature half (table) or the whole row
    int row0 = blockIdx.y * HL_ROWS, warp = threadIdx.x >> 5, lane = threadIdx.x & 31, K = TABLE ? h : 2 * h;
    int col = blockIdx.x * HL_WARPS + warp, nr = min(HL_ROWS, n - row0);
    float *en = hl_in + HL_ROWS * K, *hn = en + h;
    const float* wrow = w + (long long)min(col, h - 1) * 2 * h + (TABLE ? h : 0);
    pdl_launch();
    HlPre<P> pre = hl_preload<P>(wrow, 4 * K);
    if (!TABLE) hl_stage_weight(en, enorm, h);
    hl_stage_weight(hn, hnorm, h);
    pdl_wait();
    __syncthreads();
    int i = row0 + warp;
    float* dst = hl_in + warp * K;
    if (i < n) {
        if (!TABLE) {
            int token = hl_token(tokens, packed, fill, i);
            hl_stage_row(dst, embed + (long long)token * h, h, enorm ? en : nullptr, eps, false);
        }
        hl_stage_row(dst + (TABLE ? 0 : h), feat + (long long)(feat_rows ? feat_rows[i] : i) * h, h, hnorm ? hn : nullptr,
                     eps, false);
    } else if (warp < HL_ROWS) {
        for (int k = lane; k < K; k += 32) dst[k] = 0.f;
    }
    // this lane's row's embedding half, loaded before the dot that it is added to
    int r = row0 + lane;
    bool mine = col < h && lane < HL_ROWS && r < n;
    float e = 0.f;
    if (TABLE && mine) e = etab[(long long)hl_token(tokens, packed, fill, r) * h + col];
    if (reset && blockIdx.x == 0 && threadIdx.x < HL_ROWS && row0 + threadIdx.x < n) reset[row0 + threadIdx.x] = 0ull;
    __syncthreads();
    if (col >= h) return;
    float acc[HL_ROWS];
    hl_dot(hl_in, K, nr, wrow, pre, acc);
    float v = hl_mine(acc);
    if (mine) x[(long long)r * h + col] = TABLE ? e + v : v;
}

extern "C" __global__ void es_hl_combine(int n, const int* __restrict__ tokens, const unsigned long long* __restrict__ packed,
                                         const int* __restrict__ fill, const float* __restrict__ embed, const float* __restrict__ etab,
                                         const float* __restrict__ feat, const int* __restrict__ feat_rows,
                                         const float* __restrict__ enorm, const float* __restrict__ hnorm, float eps, int h,
                                         const float* __restrict__ w, float* __restrict__ x,
                                         unsigned long long* __restrict__ reset) {
    extern __shared__ __align__(16) float hl_in[];
    if (etab) hl_combine<true>(hl_in, n, tokens, packed, fill, embed, etab, feat, feat_rows, enorm, hnorm, eps, h, w, x, reset);
    else hl_combine<false>(hl_in, n, tokens, packed, fill, embed, etab, feat, feat_rows, enorm, hnorm, eps, h, w, x, reset);
}

// The attention input: per head hd = blockIdx.x, its d columns of rmsnorm(x; norm_w) . wqkv^T (wqkv [(nH + 2nKV) d, h]
// bf16, q heads then k then v), then as es_qkv_rope_append: q/k per-head RMSNorm when q_norm/k_norm are given, RoPE
// of q and k (at the logical position p - row_back when given), q to q_out, k and v to the cache slot of (sequence, position).
// With etab the rows are gathered (hl_gathered_start: x = etab[tokens, or the argmax in packed] + fh rows, also
// written to x, whose argument is then their destination); else x is the input.
//   grid (nH + 2 nKV, row groups), block 32 * max(HL_ROWS, min(32, d)) (a warp per column up to 32 columns),
//   smem HL_ROWS * (h + d) + h floats
extern "C" __global__ void __launch_bounds__(1024) es_hl_qkv_rope(int n, float* __restrict__ x, const float* __restrict__ norm_w, float eps,
                                          int h, const __nv_bfloat16* __restrict__ w, const float* __restrict__ q_norm,
                                          const float* __restrict__ k_norm, const float* __restrict__ inv_freq,
                                          const int* __restrict__ row_pos, const int* __restrict__ row_back,
                                          const int* __restrict__ row_table,
                                          const int* __restrict__ block_tables, int nH, int nKV, int d,
                                          float* __restrict__ q_out, float* __restrict__ k_cache,
                                          float* __restrict__ v_cache, const int* __restrict__ tokens,
                                          const unsigned long long* __restrict__ packed,
                                          const float* __restrict__ etab, const float* __restrict__ fh,
                                          const int* __restrict__ fh_rows, unsigned long long* __restrict__ reset) {
    extern __shared__ __align__(16) float hl_in[];
    float *out = hl_in + HL_ROWS * h, *nw_s = out + HL_ROWS * d;  // [HL_ROWS][d], [h]
    int row0 = blockIdx.y * HL_ROWS, warp = threadIdx.x >> 5, lane = threadIdx.x & 31, hd = blockIdx.x, t = threadIdx.x;
    int warps = blockDim.x >> 5, nr = min(HL_ROWS, n - row0);
    const __nv_bfloat16* w0 = w + (long long)(hd * d + min(warp, d - 1)) * h;
    HlPre<2> pre = etab ? hl_gathered_start<2>(hl_in, nw_s, tokens, packed, etab, fh, fh_rows, x, reset, row0, n, h, norm_w, eps,
                                               true, w0, 2 * h)
                        : hl_normed_start<2>(hl_in, nw_s, x, nullptr, row0, n, h, norm_w, eps, true, w0, 2 * h);
    for (int c = warp; c < d; c += warps) {
        float acc[HL_ROWS];
        const __nv_bfloat16* wc = w + (long long)(hd * d + c) * h;
        if (c == warp) hl_dot(hl_in, h, nr, wc, pre, acc);
        else hl_dot(hl_in, h, nr, wc, hl_preload<2>(wc, 2 * h), acc);
        float v = hl_mine(acc);
        if (lane < HL_ROWS) out[lane * d + c] = v;
    }
    __syncthreads();
    int kvw = nKV * d, half = d / 2;
    const float* nw = hd < nH ? q_norm : k_norm;
    for (int r = 0; r < HL_ROWS && row0 + r < n; r++) {
        int i = row0 + r, p = row_pos[i];
        long long slot = (long long)block_tables[row_table[i] + p / KV_BLOCK] * KV_BLOCK + p % KV_BLOCK;
        float* head = out + r * d;
        if (hd >= nH + nKV) {  // v: as is
            for (int c = t; c < d; c += blockDim.x) v_cache[slot * kvw + (hd - nH - nKV) * d + c] = head[c];
            continue;
        }
        if (nw) {
            float v = t < d ? head[t] : 0.f;
            float inv = rsqrtf(block_sum(v * v) / d + eps);  // its barriers order the reads before the writes
            if (t < d) head[t] = v * inv * nw[t];
            __syncthreads();
        }
        if (t < d) {
            int j = t < half ? t : t - half;
            double s, c;
            sincos((double)((float)(row_back ? p - row_back[i] : p) * inv_freq[j]), &s, &c);  // as es_qkv_rope_append
            float cs = (float)c, sn = (float)s, x0 = head[j], x1 = head[j + half];
            float o = t < half ? x0 * cs - x1 * sn : x1 * cs + x0 * sn;
            if (hd < nH) q_out[(long long)i * nH * d + hd * d + t] = o;
            else k_cache[slot * kvw + (hd - nH) * d + t] = o;
        }
    }
}

// A projection into the residual stream: x[i, col] += a[i, :K] . w[col, :K] (a bf16 rows: the attention output for
// o_proj, the SwiGLU output for down_proj; w [N, K] bf16).   grid (ceil(N / HL_WARPS), row groups), smem HL_ROWS * K floats
extern "C" __global__ void es_hl_add(int n, const __nv_bfloat16* __restrict__ a, int K, const __nv_bfloat16* __restrict__ w,
                                     int N, float* __restrict__ x) {
    extern __shared__ __align__(16) float hl_in[];
    int row0 = blockIdx.y * HL_ROWS, warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
    int col = blockIdx.x * HL_WARPS + warp, nr = min(HL_ROWS, n - row0);
    pdl_launch();
    HlPre<2> pre = hl_preload<2>(w + (long long)min(col, N - 1) * K, 2 * K);
    pdl_wait();
    // the residual this lane updates, read early so that its latency hides behind the staging
    bool mine = col < N && lane < HL_ROWS && row0 + lane < n;
    float xr = mine ? x[(long long)(row0 + lane) * N + col] : 0.f;
    {  // warp r stages row r, 8 bf16 per lane and load
        int i = row0 + warp;
        float* dst = hl_in + warp * K;
        for (int k = lane * 8; k < K; k += 256) {
            float v[8] = {0.f, 0.f, 0.f, 0.f, 0.f, 0.f, 0.f, 0.f};
            if (i < n) hl_unpack8(*reinterpret_cast<const uint4*>(a + (long long)i * K + k), v);
            reinterpret_cast<float4*>(dst + k)[0] = make_float4(v[0], v[1], v[2], v[3]);
            reinterpret_cast<float4*>(dst + k)[1] = make_float4(v[4], v[5], v[6], v[7]);
        }
    }
    __syncthreads();
    if (col >= N) return;
    float acc[HL_ROWS];
    hl_dot(hl_in, K, nr, w + (long long)col * K, pre, acc);
    float v = hl_mine(acc);
    if (mine) x[(long long)(row0 + lane) * N + col] = xr + v;
}

// The EAGLE head's dense MLP input: act[i, j] = silu(g) * u (bf16) with g, u columns j and inter + j of
// rmsnorm(x; norm_w) . w^T (w [2 inter, h] bf16, gate rows first).
//   grid (ceil(inter / HL_WARPS), row groups), smem (HL_ROWS + 1) * h floats
extern "C" __global__ void es_hl_swiglu(int n, const float* __restrict__ x, const float* __restrict__ norm_w, float eps,
                                        int h, const __nv_bfloat16* __restrict__ w, int inter,
                                        __nv_bfloat16* __restrict__ act) {
    extern __shared__ __align__(16) float hl_in[];
    int row0 = blockIdx.y * HL_ROWS, warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
    int j = blockIdx.x * HL_WARPS + warp, jc = min(j, inter - 1), nr = min(HL_ROWS, n - row0);
    HlPre<2> preU = hl_preload<2>(w + (long long)(inter + jc) * h, 2 * h);
    HlPre<2> preG = hl_normed_start<2>(hl_in, hl_in + HL_ROWS * h, x, nullptr, row0, n, h, norm_w, eps, true,
                                       w + (long long)jc * h, 2 * h);
    if (j >= inter) return;
    float g[HL_ROWS], u[HL_ROWS];
    hl_dot(hl_in, h, nr, w + (long long)j * h, preG, g);
    hl_dot(hl_in, h, nr, w + (long long)(inter + j) * h, preU, u);
    float gv = hl_mine(g), uv = hl_mine(u);
    if (lane < HL_ROWS && row0 + lane < n) act[(long long)(row0 + lane) * inter + j] = __float2bfloat16(gv / (1.f + expf(-gv)) * uv);
}

// The MoE inputs of a layer (the target's, the MTP layer's): a = rmsnorm(x; norm_w) as bf16 (written by the first
// column tile) and the router logits out[i, e] = rmsnorm(x)_i . w[e] in fp32 (w [N, h] fp32).
//   grid (ceil(N / HL_WARPS), row groups), smem (HL_ROWS + 1) * h floats
extern "C" __global__ void es_hl_norm_router(int n, const float* __restrict__ x, const float* __restrict__ norm_w, float eps,
                                             int h, const float* __restrict__ w, int N, float* __restrict__ out,
                                             __nv_bfloat16* __restrict__ a) {
    extern __shared__ __align__(16) float hl_in[];
    int row0 = blockIdx.y * HL_ROWS, warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
    int col = blockIdx.x * HL_WARPS + warp, nr = min(HL_ROWS, n - row0);
    HlPre<2> pre = hl_normed_start<2>(hl_in, hl_in + HL_ROWS * h, x, nullptr, row0, n, h, norm_w, eps, false,
                                      w + (long long)min(col, N - 1) * h, 4 * h);
    if (blockIdx.x == 0) {
        for (int e = threadIdx.x; e < HL_ROWS * h; e += blockDim.x) {
            if (row0 + e / h < n) a[(long long)row0 * h + e] = __float2bfloat16(hl_in[e]);
        }
    }
    if (col >= N) return;
    float acc[HL_ROWS];
    hl_dot(hl_in, h, nr, w + (long long)col * h, pre, acc);
    float v = hl_mine(acc);
    if (lane < HL_ROWS && row0 + lane < n) out[(long long)(row0 + lane) * N + col] = v;
}

// The head's output: logits[i] = rmsnorm(x[rows ? rows[i] : i]; norm_w) . w^T (w [V, h] bf16, the target's lm_head),
// fp32. best (optional): best[i] = the row's argmax key (hl_argmax_key), merged by atomicMax into a slot the caller
// zeroed, so a drafting chain's next link reads its token without another kernel.
// With fw, column tiles past the logits' also project x for the next link, which then skips es_hl_combine: fh[i] =
// fnorm(x[i]) . fw[c]^T for all m rows of x (fw [h, h] fp32 rows ldw apart: the feature half of the head's input
// projection; fnorm optional), staged and summed exactly as es_hl_combine sums its feature half. V = 0: only that.
//   grid (ceil(V / HL_WARPS) + (fw ? ceil(h / HL_WARPS) : 0), row groups of max(n, m)), smem (HL_ROWS + 1) * h floats
extern "C" __global__ void es_hl_lm_head(int n, const float* __restrict__ x, const int* __restrict__ rows,
                                         const float* __restrict__ norm_w, float eps, int h,
                                         const __nv_bfloat16* __restrict__ w, int V, float* __restrict__ logits,
                                         unsigned long long* __restrict__ best, int m, const float* __restrict__ fw,
                                         int ldw, const float* __restrict__ fnorm, float* __restrict__ fh) {
    extern __shared__ __align__(16) float hl_in[];
    __shared__ unsigned long long keys[HL_WARPS][HL_ROWS];
    int row0 = blockIdx.y * HL_ROWS, warp = threadIdx.x >> 5, lane = threadIdx.x & 31, tiles = (V + HL_WARPS - 1) / HL_WARPS;
    if (blockIdx.x >= tiles) {  // the next link's feature projection
        int col = (blockIdx.x - tiles) * HL_WARPS + warp, nr = min(HL_ROWS, m - row0);
        if (row0 >= m) {
            pdl_launch();
            return;
        }
        const float* wrow = fw + (long long)min(col, h - 1) * ldw;
        HlPre<2> pre = hl_normed_start<2>(hl_in, hl_in + HL_ROWS * h, x, nullptr, row0, m, h, fnorm, eps, false, wrow, 4 * h);
        if (col >= h) return;
        float acc[HL_ROWS];
        hl_dot(hl_in, h, nr, wrow, pre, acc);
        float v = hl_mine(acc);
        if (lane < HL_ROWS && row0 + lane < m) fh[(long long)(row0 + lane) * h + col] = v;
        return;
    }
    if (row0 >= n) {
        pdl_launch();
        return;
    }
    int col = blockIdx.x * HL_WARPS + warp, nr = min(HL_ROWS, n - row0);
    HlPre<2> pre = hl_normed_start<2>(hl_in, hl_in + HL_ROWS * h, x, rows, row0, n, h, norm_w, eps, true,
                                      w + (long long)min(col, V - 1) * h, 2 * h);
    float acc[HL_ROWS];
    if (col < V) hl_dot(hl_in, h, nr, w + (long long)col * h, pre, acc);
    float v = col < V ? hl_mine(acc) : 0.f;
    bool real = col < V && lane < HL_ROWS && row0 + lane < n;
    if (real) logits[(long long)(row0 + lane) * V + col] = v;
    if (!best) return;
    if (lane < HL_ROWS) keys[warp][lane] = real ? hl_argmax_key(v, col) : 0ull;
    __syncthreads();
    if (threadIdx.x < HL_ROWS && row0 + threadIdx.x < n) {
        unsigned long long k = 0ull;
        for (int q = 0; q < HL_WARPS; q++) k = keys[q][threadIdx.x] > k ? keys[q][threadIdx.x] : k;
        if (k) atomicMax(&best[row0 + threadIdx.x], k);
    }
}

// ---- Medusa heads (FORMAT.md section 5.3): one feature row, every head at once, fp32 like the CPU heads ----

// in[:K] . w[:K] over one warp (fp32, the row's first chunks in pre); every lane returns the sum.
template <int P>
__device__ __forceinline__ float hl_dot1(const float* in, int K, const float* __restrict__ w, const HlPre<P>& pre) {
    int lane = threadIdx.x & 31;
    float acc = 0.f;
#pragma unroll
    for (int i = 0; i < P; i++) {
        int k = (32 * i + lane) * 4;
        if (k < K) {
            float4 a = *reinterpret_cast<const float4*>(in + k);
            uint4 raw = pre.c[i];
            acc += a.x * __uint_as_float(raw.x) + a.y * __uint_as_float(raw.y) + a.z * __uint_as_float(raw.z)
                 + a.w * __uint_as_float(raw.w);
        }
    }
    for (int k = (32 * P + lane) * 4; k < K; k += 128) {
        float4 a = *reinterpret_cast<const float4*>(in + k), b = __ldg(reinterpret_cast<const float4*>(w + k));
        acc += a.x * b.x + a.y * b.y + a.z * b.z + a.w * b.w;
    }
    return warp_sum(acc);
}

// The heads' ResBlocks: hn = rmsnorm(feature; norm_w), then r[c] = hn[c % h] + silu(hn . w[c] + bias[c]) for the
// c < heads * h columns of the stacked [heads * h, h] weights.   grid (ceil(heads * h / HL_WARPS)), block 256,
// smem 2h floats
extern "C" __global__ void es_medusa_blocks(const float* __restrict__ feature, const float* __restrict__ norm_w, float eps,
                                            int h, int heads, const float* __restrict__ w, const float* __restrict__ bias,
                                            float* __restrict__ r) {
    extern __shared__ __align__(16) float hl_in[];
    int warp = threadIdx.x >> 5, lane = threadIdx.x & 31, col = blockIdx.x * HL_WARPS + warp, cols = heads * h;
    pdl_launch();
    HlPre<2> pre = hl_preload<2>(w + (long long)min(col, cols - 1) * h, 4 * h);
    hl_stage_weight(hl_in + h, norm_w, h);
    pdl_wait();
    __syncthreads();
    if (warp == 0) hl_stage_row(hl_in, feature, h, hl_in + h, eps, false);
    __syncthreads();
    if (col >= cols) return;
    float a = hl_dot1(hl_in, h, w + (long long)col * h, pre) + bias[col];
    if (lane == 0) r[col] = hl_in[col % h] + a / (1.f + expf(-a));
}

// Each head's logits: logits[i, c] = r[i] . w_i[c] (w: the address of each head's lm_head [V, h]).
//   grid (ceil(V / HL_WARPS), heads), block 256, smem h floats
extern "C" __global__ void es_medusa_logits(const float* __restrict__ r, int h, const float* const* __restrict__ w, int V,
                                            float* __restrict__ logits) {
    extern __shared__ __align__(16) float hl_in[];
    int warp = threadIdx.x >> 5, lane = threadIdx.x & 31, col = blockIdx.x * HL_WARPS + warp, head = blockIdx.y;
    const float* wh = w[head];
    pdl_launch();
    HlPre<2> pre = hl_preload<2>(wh + (long long)min(col, V - 1) * h, 4 * h);
    pdl_wait();
    for (int k = threadIdx.x; k < h; k += blockDim.x) hl_in[k] = r[(long long)head * h + k];
    __syncthreads();
    if (col >= V) return;
    float v = hl_dot1(hl_in, h, wh + (long long)col * h, pre);
    if (lane == 0) logits[(long long)head * V + col] = v;
}
