// C[b] = A[b] @ B[b] for large products: a 128x128 output tile per workgroup of 16x16 threads,
// each thread an 8x8 block (rows r0..r0+3 and r0+64..r0+67, the same for columns, so a warp's
// reads of workgroup memory spread over the banks) in sixteen vec4 accumulators; K in steps
// of 8 through workgroup memory. Bindings, parameters, tile loads and the store:
// gemm_common.wgsl, spliced in front (as for gemm.wgsl).

// TILE: f32, or f16 under reduced matmul precision (see gemm.wgsl).
var<workgroup> a_tile: array<{{TILE}}, 1024>;  // [k][m], 8 x 128
var<workgroup> b_tile: array<{{TILE}}, 1024>;  // [k][n], 8 x 128

fn a4(o: u32) -> vec4<f32> { return vec4<f32>(f32(a_tile[o]), f32(a_tile[o + 1u]), f32(a_tile[o + 2u]), f32(a_tile[o + 3u])); }
fn b4(o: u32) -> vec4<f32> { return vec4<f32>(f32(b_tile[o]), f32(b_tile[o + 1u]), f32(b_tile[o + 2u]), f32(b_tile[o + 3u])); }

@compute @workgroup_size(16, 16)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>, @builtin(local_invocation_index) li: u32) {
    let M = p[0]; let N = p[1]; let K = p[2];
    let a_base = p[3] + wid.z * p[6];
    let b_base = p[7] + wid.z * p[10];
    let row0 = wid.y * 128u;
    let col0 = wid.x * 128u;
    // acc_RC: rows R (0: r0..r0+3, 1: r0+64..) by column group C, one vec4 per row.
    var c00 = array<vec4<f32>, 4>(vec4<f32>(0.0), vec4<f32>(0.0), vec4<f32>(0.0), vec4<f32>(0.0));
    var c01 = c00;
    var c10 = c00;
    var c11 = c00;
    let am = lid.y * 4u;
    let bn = lid.x * 4u;
    for (var k0 = 0u; k0 < K; k0 += 8u) {
        load_tiles(k0, row0, col0, a_base, b_base, li, M, N, K);
        workgroupBarrier();
        for (var kk = 0u; kk < 8u; kk++) {
            let ra = a4(kk * 128u + am);
            let rb = a4(kk * 128u + 64u + am);
            let b0 = b4(kk * 128u + bn);
            let b1 = b4(kk * 128u + 64u + bn);
            c00[0] = fma(vec4<f32>(ra.x), b0, c00[0]); c00[1] = fma(vec4<f32>(ra.y), b0, c00[1]);
            c00[2] = fma(vec4<f32>(ra.z), b0, c00[2]); c00[3] = fma(vec4<f32>(ra.w), b0, c00[3]);
            c01[0] = fma(vec4<f32>(ra.x), b1, c01[0]); c01[1] = fma(vec4<f32>(ra.y), b1, c01[1]);
            c01[2] = fma(vec4<f32>(ra.z), b1, c01[2]); c01[3] = fma(vec4<f32>(ra.w), b1, c01[3]);
            c10[0] = fma(vec4<f32>(rb.x), b0, c10[0]); c10[1] = fma(vec4<f32>(rb.y), b0, c10[1]);
            c10[2] = fma(vec4<f32>(rb.z), b0, c10[2]); c10[3] = fma(vec4<f32>(rb.w), b0, c10[3]);
            c11[0] = fma(vec4<f32>(rb.x), b1, c11[0]); c11[1] = fma(vec4<f32>(rb.y), b1, c11[1]);
            c11[2] = fma(vec4<f32>(rb.z), b1, c11[2]); c11[3] = fma(vec4<f32>(rb.w), b1, c11[3]);
        }
        workgroupBarrier();
    }
    let base = p[12] + wid.z * p[14];
    let r0 = row0 + am;
    let r1 = row0 + 64u + am;
    let n0 = col0 + bn;
    let n1 = col0 + 64u + bn;
    for (var i = 0u; i < 4u; i++) {
        store4(r0 + i, n0, c00[i], M, N, base);
        store4(r0 + i, n1, c01[i], M, N, base);
        store4(r1 + i, n0, c10[i], M, N, base);
        store4(r1 + i, n1, c11[i], M, N, base);
    }
}
