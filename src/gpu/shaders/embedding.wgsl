// Embedding: rows of a (rows, dim) table gathered by index, and the deterministic backward that
// sums each table row's gradient. CPU twin: `embedding` in src/ops/embedding.rs.
//
// Entry points (kernels/embedding.rs compiles each as the `main` of its own pipeline):
//   embedding_f32            one thread per output element; grid = ceil(n * dim / 256) groups
//                            (2-D past 65535: flat id = wid.y * nwg.x + wid.x)
//     p = [n * dim, dim]; 1 indices (read, n f32 whole numbers already checked in [0, rows) on
//     the host), 2 table (read), 3 out (write): out[r * dim + j] = table[indices[r] * dim + j]
//   embedding_backward_f32   one thread per (table row t, column j); grid = ceil(rows * dim / 256)
//     p = [rows * dim, dim]; 1 g (read, (n, dim)), 2 starts (read, u32, rows + 1), 3 positions
//     (read, u32, n: the output rows grouped by table row, increasing within a group), 4 dtable
//     (write): dtable[t, j] = sum over k in [starts[t], starts[t + 1]) of g[positions[k], j].
//     No atomics: each table element has one writer, and the sum runs in the CPU's order (output
//     rows in increasing order), so the result is deterministic and equals the CPU's.
// Layout: all buffers row-major from element 0 (kernels/embedding.rs copies views first).
// @workgroup_size(256); threads past the element count return at once.

@group(0) @binding(0) var<storage, read> p: array<u32>;

@group(0) @binding(1) var<storage, read> indices: array<f32>;
@group(0) @binding(2) var<storage, read> table: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

@group(0) @binding(1) var<storage, read> g: array<f32>;
@group(0) @binding(2) var<storage, read> starts: array<u32>;
@group(0) @binding(3) var<storage, read> positions: array<u32>;
@group(0) @binding(4) var<storage, read_write> dtable: array<f32>;

@compute @workgroup_size(256)
fn embedding_f32(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = (wid.y * nwg.x + wid.x) * 256u + lid.x;
    if (i >= p[0]) { return; }
    let dim = p[1];
    out[i] = table[u32(indices[i / dim]) * dim + i % dim];
}

@compute @workgroup_size(256)
fn embedding_backward_f32(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = (wid.y * nwg.x + wid.x) * 256u + lid.x;
    if (i >= p[0]) { return; }
    let dim = p[1];
    let t = i / dim;
    let j = i % dim;
    var s = 0.0;
    for (var k = starts[t]; k < starts[t + 1u]; k++) {
        s += g[positions[k] * dim + j];
    }
    dtable[i] = s;
}
