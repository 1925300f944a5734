//! Shader variants for the optional adapter features. Each kernel has one WGSL source with
//! placeholders; the variant fills them and names itself in the pipeline-cache key:
//! - reductions: `workgroup_sum` / `workgroup_max` from `workgroup_reduce.wgsl` (a tree in
//!   workgroup memory) or `workgroup_reduce_subgroups.wgsl` (subgroup operations), spliced in
//!   front; entry points that call them carry `{{SUBGROUP_ARGS}}` (after their last parameter)
//!   and `{{SUBGROUP_SETUP}}` (their first statement).
//! - GEMM tiles: `{{TILE}}` is the element type of the workgroup-memory tiles, f32 or f16;
//!   `{{EPILOGUE}}` what happens to each result before it is stored (the fused dense op's bias
//!   and activation).

use crate::gpu::context::{Gpu, ShaderFeatures};
use std::sync::atomic::{AtomicU8, Ordering};

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
    format!("{helpers}\n{}", source.replace("{{SUBGROUP_ARGS}}", args).replace("{{SUBGROUP_SETUP}}", setup))
}

/// A GEMM shader with f32 or f16 tiles and the given epilogue (`epilogue_source`).
pub(crate) fn gemm_source(source: &str, f16: bool, epilogue: &str) -> String {
    let body = source.replace("{{TILE}}", if f16 { "f16" } else { "f32" }).replace("{{EPILOGUE}}", epilogue);
    // `enable` directives must open the module.
    if f16 {
        format!("enable f16;\n{body}")
    } else {
        body
    }
}

/// The GEMM epilogue `fn epilogue(v, col)`: `activation(v + bias[col])` (the bias from binding 4
/// when `bias`; `activation` a WGSL expression in `x` and the scalars s0..s2 from params 15-17),
/// or the identity. The math helpers (`sigm`, `tanh_`, ...) come with an activation.
pub(crate) fn epilogue_source(bias: bool, activation: Option<&str>) -> String {
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
        "fn epilogue(v: f32, col: u32) -> f32 {{\n    let s0 = bitcast<f32>(p[15]);\n    let s1 = bitcast<f32>(p[16]);\n    let s2 = bitcast<f32>(p[17]);\n    let x = {x};\n    return {};\n}}\n",
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
        let (gelu, _) = crate::gpu::activation::forward(crate::cpu::activation::Activation::Gelu { approximate: false }, "x");
        let epilogues = [super::epilogue_source(false, None), super::epilogue_source(true, None), super::epilogue_source(true, Some(&gelu)), super::epilogue_source(false, Some("tanh_(x)"))];
        for (name, source) in [("gemm", include_str!("../shaders/gemm.wgsl")), ("gemm_large", include_str!("../shaders/gemm_large.wgsl"))] {
            for f16 in [false, true] {
                for epilogue in &epilogues {
                    let full = super::gemm_source(source, f16, epilogue);
                    assert!(!full.contains("{{"), "{name}: a placeholder is left");
                    assert_eq!(validate(name, &full), vec!["main".to_string()]);
                }
            }
        }
    }
}
