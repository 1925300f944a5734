//! Shader variants for the optional adapter features. Each kernel has one WGSL source with
//! placeholders; the variant fills them and names itself in the pipeline-cache key:
//! - reductions: `workgroup_sum` / `workgroup_max` from `workgroup_reduce.wgsl` (a tree in
//!   workgroup memory) or `workgroup_reduce_subgroups.wgsl` (subgroup operations), spliced in
//!   front; entry points that call them carry `{{SUBGROUP_ARGS}}` (after their last parameter)
//!   and `{{SUBGROUP_SETUP}}` (their first statement).
//! - GEMM tiles: `{{TILE}}` is the element type of the workgroup-memory tiles, f32 or f16;
//!   `{{EPILOGUE}}` what happens to each result before it is stored (the fused dense op's bias
//!   and activation).

use crate::cpu::activation::Activation;
use crate::gpu::context::{Gpu, ShaderFeatures};
use std::sync::atomic::{AtomicU8, Ordering};

/// `is_nan` (by the bits) and NumPy's NaN-propagating `nan_max`, for the shaders that need them.
pub(crate) const NAN: &str = include_str!("../shaders/nan.wgsl");
const PORTABLE_REDUCE: &str = include_str!("../shaders/workgroup_reduce.wgsl");
const SUBGROUP_REDUCE: &str = include_str!("../shaders/workgroup_reduce_subgroups.wgsl");

/// Features switched off for the kernels recorded from now on (bit 0: f16, bit 1: subgroups),
/// so that tests can run both variants of a kernel in one process (`_core.gpu_portable_kernels`).
static OFF: AtomicU8 = AtomicU8::new(0);

/// Record the portable variants only (`true`) or the feature variants where the device has them.
pub fn use_portable_kernels(portable: bool) {
    OFF.store(if portable { 0b11 } else { 0 }, Ordering::Relaxed);
}

/// The features the next kernels may use: the device's, less those switched off.
fn in_use(gpu: &Gpu) -> ShaderFeatures {
    let off = OFF.load(Ordering::Relaxed);
    let f = gpu.features();
    ShaderFeatures { f16: f.f16 && off & 1 == 0, subgroups: f.subgroups && off & 2 == 0 }
}

/// Whether the reductions of `gpu` use subgroup operations.
pub(crate) fn subgroups(gpu: &Gpu) -> bool {
    in_use(gpu).subgroups
}

/// Whether GEMMs on `gpu` keep their tiles in f16 (the adapter has it and the user allowed it).
pub(crate) fn f16_tiles(gpu: &Gpu) -> bool {
    in_use(gpu).f16 && crate::gpu::reduced_matmul_precision()
}

/// The cache key of `base`'s variant.
pub(crate) fn key(base: &str, feature: &str, on: bool) -> String {
    if on {
        format!("{base}/{feature}")
    } else {
        base.to_string()
    }
}

/// `source` with the workgroup reductions spliced in front and its placeholders filled.
pub(crate) fn with_workgroup_reduce(source: &str, subgroups: bool) -> String {
    let (helpers, args, setup) = if subgroups {
        (
            SUBGROUP_REDUCE,
            ", @builtin(subgroup_invocation_id) sg_lane_in: u32, @builtin(subgroup_id) sg_id_in: u32, @builtin(num_subgroups) sg_count_in: u32",
            "sg_lane = sg_lane_in; sg_id = sg_id_in; sg_count = sg_count_in;",
        )
    } else {
        (PORTABLE_REDUCE, "", "")
    };
    format!("{NAN}\n{helpers}\n{}", source.replace("{{SUBGROUP_ARGS}}", args).replace("{{SUBGROUP_SETUP}}", setup))
}

/// Which axis of a GEMM operand the kernel reads four values at a time along (as one vec4), or
/// none (one value per read).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum VecAxis {
    Scalar,
    /// Along the operand's rows (its row stride is 1).
    Rows,
    /// Along the operand's columns (its column stride is 1).
    Cols,
}

/// A GEMM shader (behind `gemm_common.wgsl`, its bindings, loads and store): f32 or f16 tiles, the given epilogue (`epilogue_source`), and tile loads that
/// read each operand as `a_vec` / `b_vec` say. `tile` and `kstep` are the shader's tile size and
/// K step (64 and 16, or 128 and 8).
pub(crate) fn gemm_source(source: &str, f16: bool, epilogue: &str, tile: u32, kstep: u32, a_vec: VecAxis, b_vec: VecAxis) -> String {
    let ty = |v: VecAxis| if v == VecAxis::Scalar { "f32" } else { "vec4<f32>" };
    let body = format!("{}\n{source}", include_str!("../shaders/gemm_common.wgsl"))
        .replace("{{LOADS}}", &loads_source(tile, kstep, a_vec, b_vec))
        .replace("{{TILE}}", if f16 { "f16" } else { "f32" })
        .replace("{{EPILOGUE}}", epilogue)
        .replace("{{A_TYPE}}", ty(a_vec))
        .replace("{{B_TYPE}}", ty(b_vec));
    // `enable` directives must open the module.
    if f16 {
        format!("enable f16;\n{body}")
    } else {
        body
    }
}

/// `fn load_tiles(...)`: A's (tile x kstep) and B's (kstep x tile) values for this K step into
/// `a_tile` ([k][m]) and `b_tile` ([k][n]), zeros past the edges. A scalar operand takes four reads
/// per thread; a vec4 one, one read (tile * kstep / 4 = 256 vec4s in both shaders). A vec4 lies
/// wholly inside or outside the matrix: the caller picks a vec4 axis only when its length is a
/// multiple of 4 and every vec4 starts at a multiple of 4 (`vec_axis`).
fn loads_source(tm: u32, ks: u32, a: VecAxis, b: VecAxis) -> String {
    let a_part = TileLoad { src: "a", base: "a_base", row0: "row0", rows: "M", col0: "k0", cols: "K", row_stride: 4, col_stride: 5, tile_rows: tm, tile_cols: ks, k_major: false };
    let b_part = TileLoad { src: "b", base: "b_base", row0: "k0", rows: "K", col0: "col0", cols: "N", row_stride: 8, col_stride: 9, tile_rows: ks, tile_cols: tm, k_major: true };
    format!(
        "fn load_tiles(k0: u32, row0: u32, col0: u32, a_base: u32, b_base: u32, li: u32, M: u32, N: u32, K: u32) {{\n{}{}}}\n",
        a_part.source(a, tm),
        b_part.source(b, tm)
    )
}

/// How one operand's tile is loaded: the operand `src` read from `base` through the strides in
/// params `row_stride` / `col_stride`, its tile's origin (`row0`, `col0`) and bounds (`rows`,
/// `cols`) as WGSL names, the tile's extent, and where element (r, c) goes in workgroup memory:
/// `{src}_tile`, k-major, i.e. `c * tm + r` for A (rows m, columns k) and `r * tm + c` for B
/// (rows k, columns n).
struct TileLoad {
    src: &'static str,
    base: &'static str,
    row0: &'static str,
    rows: &'static str,
    col0: &'static str,
    cols: &'static str,
    row_stride: u32,
    col_stride: u32,
    tile_rows: u32,
    tile_cols: u32,
    /// B's layout: the tile's rows (k) are its major axis.
    k_major: bool,
}

impl TileLoad {
    fn slot(&self, r: &str, c: &str, tm: u32) -> String {
        if self.k_major {
            format!("{}_tile[({r}) * {tm}u + {c}]", self.src)
        } else {
            format!("{}_tile[({c}) * {tm}u + {r}]", self.src)
        }
    }

    fn source(&self, axis: VecAxis, tm: u32) -> String {
        let TileLoad { src, base, row0, rows, col0, cols, row_stride: rs, col_stride: cs, tile_rows, tile_cols, .. } = *self;
        let inside = format!("{row0} + r < {rows} && {col0} + c < {cols}");
        let (setup, read, store) = match axis {
            VecAxis::Scalar => {
                return format!(
                    "    for (var e = 0u; e < 4u; e++) {{\n        let idx = li + e * 256u;\n        let r = idx / {tile_cols}u;\n        let c = idx % {tile_cols}u;\n        var v = 0.0;\n        if ({inside}) {{ v = {src}[{base} + ({row0} + r) * p[{rs}] + ({col0} + c) * p[{cs}]]; }}\n        {} = {{{{TILE}}}}(v);\n    }}\n",
                    self.slot("r", "c", tm)
                );
            }
            VecAxis::Cols => (
                format!("let r = li / {}u;\n        let c = (li % {}u) * 4u;", tile_cols / 4, tile_cols / 4),
                format!("({base} + ({row0} + r) * p[{rs}] + {col0} + c) / 4u"),
                self.slot("r", "c + j", tm),
            ),
            VecAxis::Rows => (
                format!("let c = li / {}u;\n        let r = (li % {}u) * 4u;", tile_rows / 4, tile_rows / 4),
                format!("({base} + {row0} + r + ({col0} + c) * p[{cs}]) / 4u"),
                self.slot("r + j", "c", tm),
            ),
        };
        format!(
            "    {{\n        {setup}\n        var v = vec4<f32>(0.0);\n        if ({inside}) {{ v = {src}[{read}]; }}\n        for (var j = 0u; j < 4u; j++) {{ {store} = {{{{TILE}}}}(v[j]); }}\n    }}\n"
        )
    }
}

/// The axis a `(rows, cols)` operand (per batch) can be read along in vec4s: the one with stride
/// 1, when its length is a multiple of 4 and the offset, the other stride and the batch stride
/// are too (so each vec4 starts at a multiple of 4 and lies wholly inside or outside). Columns
/// first.
pub(crate) fn vec_axis(rows: usize, cols: usize, batches: usize, offset: usize, row_stride: usize, col_stride: usize, batch_stride: usize) -> VecAxis {
    let aligned = |v: usize| v % 4 == 0;
    let common = aligned(offset) && (batches <= 1 || aligned(batch_stride));
    if common && col_stride == 1 && aligned(cols) && (rows <= 1 || aligned(row_stride)) {
        VecAxis::Cols
    } else if common && row_stride == 1 && aligned(rows) && (cols <= 1 || aligned(col_stride)) {
        VecAxis::Rows
    } else {
        VecAxis::Scalar
    }
}

/// What a GEMM or convolution does to each result before storing it: add `bias[channel]`, then
/// apply `activation` (Linear: nothing). The fused dense and convolution ops use it.
#[derive(Clone, Copy)]
pub struct Epilogue<'a> {
    pub bias: Option<&'a wgpu::Buffer>,
    pub activation: Activation,
}

impl Default for Epilogue<'_> {
    fn default() -> Self {
        Epilogue { bias: None, activation: Activation::Linear }
    }
}

impl Epilogue<'_> {
    /// Whether results are stored as they are (no bias, no activation).
    pub(crate) fn is_identity(&self) -> bool {
        self.bias.is_none() && self.activation == Activation::Linear
    }

    /// The pipeline-key suffix of this epilogue ("" for the identity).
    pub(crate) fn key(&self) -> String {
        if self.is_identity() {
            return String::new();
        }
        format!("/epilogue:{}:{}", self.bias.is_some(), crate::gpu::activation::key(self.activation))
    }

    /// The activation's scalars s0..s2 as parameter words (zeros without an activation: every
    /// plain GEMM dispatch comes here, and need not build the activation's WGSL for nothing).
    pub(crate) fn scalars(&self) -> [u32; 3] {
        if self.activation == Activation::Linear {
            return [0; 3];
        }
        let (_, s) = crate::gpu::activation::forward(self.activation, "x");
        [s[0].to_bits(), s[1].to_bits(), s[2].to_bits()]
    }

    /// `fn epilogue(v, col)`: `activation(v + bias[col])` (the bias from binding 4; the scalars
    /// s0..s2 from params `scalars`, `scalars + 1`, `scalars + 2`), or the identity. The math
    /// helpers (`sigm`, `tanh_`, ...) come with an activation.
    pub(crate) fn source(&self, scalars: usize) -> String {
        let activation = (self.activation != Activation::Linear).then(|| crate::gpu::activation::forward(self.activation, "x").0);
        epilogue_source(self.bias.is_some(), activation.as_deref(), scalars)
    }

    /// The buffers the epilogue binds after the kernel's own (the bias, at binding 4).
    pub(crate) fn bindings(&self) -> Option<&wgpu::Buffer> {
        self.bias
    }
}

fn epilogue_source(bias: bool, activation: Option<&str>, scalars: usize) -> String {
    if !bias && activation.is_none() {
        return "fn epilogue(v: f32, col: u32) -> f32 { return v; }\n".to_string();
    }
    let mut out = String::new();
    if activation.is_some() {
        out.push_str(include_str!("../shaders/math.wgsl"));
    }
    if bias {
        out.push_str("@group(0) @binding(4) var<storage, read> bias: array<f32>;\n");
    }
    let x = if bias { "v + bias[col]" } else { "v" };
    out.push_str(&format!(
        "fn epilogue(v: f32, col: u32) -> f32 {{\n    let s0 = bitcast<f32>(p[{}]);\n    let s1 = bitcast<f32>(p[{}]);\n    let s2 = bitcast<f32>(p[{}]);\n    let x = {x};\n    return {};\n}}\n",
        scalars,
        scalars + 1,
        scalars + 2,
        activation.unwrap_or("x")
    ));
    out
}

#[cfg(test)]
pub(crate) mod tests {
    use wgpu::naga;

    /// Parse and validate `source` as an adapter with every optional feature would; its entry
    /// point names. Panics with naga's message otherwise.
    pub(crate) fn validate(name: &str, source: &str) -> Vec<String> {
        let module = naga::front::wgsl::parse_str(source).unwrap_or_else(|e| panic!("{name}: {}", e.emit_to_string(source)));
        let caps = naga::valid::Capabilities::SUBGROUP | naga::valid::Capabilities::SUBGROUP_BARRIER | naga::valid::Capabilities::SHADER_FLOAT16;
        naga::valid::Validator::new(naga::valid::ValidationFlags::all(), caps)
            .subgroup_stages(naga::valid::ShaderStages::COMPUTE)
            .subgroup_operations(naga::valid::SubgroupOperationSet::all())
            .validate(&module)
            .unwrap_or_else(|e| panic!("{name}: {}", e.emit_to_string(source)));
        module.entry_points.iter().map(|e| e.name.clone()).collect()
    }

    #[test]
    fn every_variant_of_the_reduction_and_gemm_shaders_validates() {
        let reductions = [
            ("reduce_rows", include_str!("../shaders/reduce_rows.wgsl").replace("{{IS_MAX}}", "true")),
            ("softmax", include_str!("../shaders/softmax.wgsl").replace("{{LOG}}", "false")),
            ("norm", include_str!("../shaders/norm.wgsl").to_string()),
        ];
        for (name, source) in &reductions {
            for subgroups in [false, true] {
                let full = super::with_workgroup_reduce(source, subgroups);
                assert!(!full.contains("{{"), "{name}: a placeholder is left");
                assert!(!validate(name, &full).is_empty());
            }
        }
        let argmax = format!("{}\n{}", super::NAN, include_str!("../shaders/argmax_rows.wgsl"));
        assert_eq!(validate("argmax_rows", &argmax), vec!["main".to_string()]);
        let (gelu, _) = crate::gpu::activation::forward(crate::cpu::activation::Activation::Gelu { approximate: false }, "x");
        let epilogues = [super::epilogue_source(false, None, 15), super::epilogue_source(true, None, 15), super::epilogue_source(true, Some(&gelu), 15), super::epilogue_source(false, Some("tanh_(x)"), 15)];
        use super::VecAxis::{Cols, Rows, Scalar};
        for (name, source, tile, kstep) in [("gemm", include_str!("../shaders/gemm.wgsl"), 64, 16), ("gemm_large", include_str!("../shaders/gemm_large.wgsl"), 128, 8)] {
            for f16 in [false, true] {
                for epilogue in &epilogues {
                    for (a, b) in [(Scalar, Scalar), (Cols, Cols), (Rows, Rows), (Cols, Rows), (Rows, Scalar)] {
                        let full = super::gemm_source(source, f16, epilogue, tile, kstep, a, b);
                        assert!(!full.contains("{{"), "{name}: a placeholder is left");
                        assert_eq!(validate(name, &full), vec!["main".to_string()]);
                    }
                }
            }
        }
    }

    #[test]
    fn vec4_reads_only_where_every_vec4_is_aligned_and_whole() {
        use super::{vec_axis, VecAxis::*};
        // (rows, cols, batches, offset, row stride, col stride, batch stride)
        assert_eq!(vec_axis(5, 8, 1, 0, 8, 1, 0), Cols); // row-major, 8 columns
        assert_eq!(vec_axis(5, 8, 1, 4, 12, 1, 0), Cols); // a column block of a wider matrix
        assert_eq!(vec_axis(5, 8, 1, 2, 8, 1, 0), Scalar); // offset not a multiple of 4
        assert_eq!(vec_axis(5, 6, 1, 0, 6, 1, 0), Scalar); // 6 columns: a vec4 would straddle rows
        assert_eq!(vec_axis(8, 5, 1, 0, 1, 8, 0), Rows); // a transposed row-major (5, 8)
        assert_eq!(vec_axis(8, 5, 1, 0, 1, 6, 0), Scalar); // its column stride not a multiple of 4
        assert_eq!(vec_axis(1, 8, 1, 0, 3, 1, 0), Cols); // one row: its stride never used
        assert_eq!(vec_axis(4, 8, 3, 0, 8, 1, 34), Scalar); // batches 34 apart
        assert_eq!(vec_axis(4, 8, 3, 0, 8, 1, 32), Cols);
        assert_eq!(vec_axis(4, 8, 1, 0, 8, 1, 34), Cols); // one batch: its stride never used
    }
}
