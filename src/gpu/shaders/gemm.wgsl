// C[b] = A[b] @ B[b]: a 64x64 output tile per workgroup of 16x16 threads, each thread a 4x4 block
// held as four vec4 accumulators (rows of the block), K in steps of 16 through workgroup memory.
// No private array is indexed dynamically, so every compiler keeps the block in registers.
// A and B are read through offsets and (row, column, batch) strides, so transposed operands need
// no copy. C is written through an offset, a row stride and a batch stride (unit column stride),
// so a result can land in a column block or a strided row set of a larger buffer (+= with
// accumulate).
// Bindings, parameters, tile loads and the store: gemm_common.wgsl, spliced in front.

// TILE: f32, or f16 when the user allows reduced matmul precision on an adapter with shader-f16
// (operands rounded to f16 as they enter the tiles; products and sums stay f32).
var<workgroup> a_tile: array<{{TILE}}, 1024>;  // [k][m], 16 x 64
var<workgroup> b_tile: array<{{TILE}}, 1024>;  // [k][n], 16 x 64

@compute @workgroup_size(16, 16)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>, @builtin(local_invocation_index) li: u32) {
    let M = p[0]; let N = p[1]; let K = p[2];
    let a_base = p[3] + wid.z * p[6];
    let b_base = p[7] + wid.z * p[10];
    let row0 = wid.y * 64u;
    let col0 = wid.x * 64u;
    var acc0 = vec4<f32>(0.0);
    var acc1 = vec4<f32>(0.0);
    var acc2 = vec4<f32>(0.0);
    var acc3 = vec4<f32>(0.0);
    let am = lid.y * 4u;  // this thread's rows in the tile
    let bn = lid.x * 4u;  // and columns
    for (var k0 = 0u; k0 < K; k0 += 16u) {
        load_tiles(k0, row0, col0, a_base, b_base, li, M, N, K);
        workgroupBarrier();
        for (var kk = 0u; kk < 16u; kk++) {
            let ao = kk * 64u + am;
            let bo = kk * 64u + bn;
            let bv = vec4<f32>(f32(b_tile[bo]), f32(b_tile[bo + 1u]), f32(b_tile[bo + 2u]), f32(b_tile[bo + 3u]));
            acc0 = fma(vec4<f32>(f32(a_tile[ao])), bv, acc0);
            acc1 = fma(vec4<f32>(f32(a_tile[ao + 1u])), bv, acc1);
            acc2 = fma(vec4<f32>(f32(a_tile[ao + 2u])), bv, acc2);
            acc3 = fma(vec4<f32>(f32(a_tile[ao + 3u])), bv, acc3);
        }
        workgroupBarrier();
    }
    let base = p[12] + wid.z * p[14];
    let r = row0 + am;
    let col = col0 + bn;
    store4(r, col, acc0, M, N, base);
    store4(r + 1u, col, acc1, M, N, base);
    store4(r + 2u, col, acc2, M, N, base);
    store4(r + 3u, col, acc3, M, N, base);
}
