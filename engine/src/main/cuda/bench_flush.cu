// The second half of `moespec bench moe`'s L2 flush (dev.moespec.engine.bench.L2Flush): after the flush buffer
// (twice the L2) has been written, read it back, so that the dirty lines the write left in L2 go to memory now,
// before the timed region, and L2 ends up holding clean lines that a timed kernel can evict for free.
// Grid-stride over n 16-byte words. The xor of everything a thread read is stored only if it equals `never`; the
// buffer is a byte fill, whose 16-byte words xor to 0, so with never != 0 nothing but the reads reaches memory.
extern "C" __global__ void bench_l2_read(const uint4* __restrict__ p, long long n, unsigned never, unsigned* __restrict__ sink) {
    unsigned x = 0;
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x) {
        const uint4 v = p[i];
        x ^= v.x ^ v.y ^ v.z ^ v.w;
    }
    if (x == never) sink[0] = x;
}
