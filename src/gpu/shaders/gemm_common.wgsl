// What both GEMM shaders (gemm.wgsl, gemm_large.wgsl) share, spliced in front of each by
// kernels/variant.rs: the bindings, the epilogue and tile loads written per variant, and the store
// of a row of four results.
// Params: M, N, K, a_off, a_rs, a_cs, a_bs, b_off, b_rs, b_cs, b_bs, accumulate, c_off, c_rs, c_bs,
// then the epilogue's activation scalars s0, s1, s2 (f32 bits).

@group(0) @binding(0) var<storage, read> p: array<u32>;
// A and B: array<f32>, or array<vec4<f32>> where an operand's layout lets whole vec4s be read
// along its contiguous axis (kernels/variant.rs writes load_tiles for each case).
@group(0) @binding(1) var<storage, read> a: array<{{A_TYPE}}>;
@group(0) @binding(2) var<storage, read> b: array<{{B_TYPE}}>;
@group(0) @binding(3) var<storage, read_write> c: array<f32>;

// fn epilogue(v: f32, col: u32) -> f32, applied to each result before it is stored: the identity,
// or a bias (binding 4) and an activation for the fused dense op (kernels/variant.rs).
{{EPILOGUE}}

// fn load_tiles(k0, row0, col0, a_base, b_base, li, M, N, K): this step's A and B tiles into
// workgroup memory (a_tile, b_tile: declared by each shader), zeros past the matrices' edges.
{{LOADS}}

// Row r's four results from column col, through the epilogue, stored (or added with accumulate)
// where they fall inside the (M, N) output at `base`.
fn store4(r: u32, col: u32, v: vec4<f32>, M: u32, N: u32, base: u32) {
    if (r >= M) { return; }
    let at = base + r * p[13] + col;
    let acc = p[11] != 0u;
    for (var j = 0u; j < 4u; j++) {
        if (col + j < N) {
            let e = epilogue(v[j], col + j);
            if (acc) { c[at + j] = c[at + j] + e; } else { c[at + j] = e; }
        }
    }
}
