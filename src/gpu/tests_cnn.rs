//! The CNN kernels (conv, pool, spatial, concat) against the CPU path, forward and gradients.
//! Without an adapter they pass vacuously, unless FERRONET_REQUIRE_GPU=1 (as in CI).

use super::tests::{assert_close, gpu_or_skip, random};
use crate::cpu::activation::Activation;
use crate::ops::conv::{conv2d, conv2d_transpose, ConvSpec, Padding};
use crate::ops::{self, DenseActivation};
use crate::tensor::{Device, Tensor};

const LINEAR: DenseActivation = DenseActivation::Elementwise(Activation::Linear);

fn leaf(t: &Tensor, device: Device) -> Tensor {
    let t = t.to_device(device).unwrap().detach();
    t.set_requires_grad(true).unwrap();
    t
}

/// `f` on the CPU and on the GPU: outputs and the gradients of `sum(out * w)` must agree.
fn parity(inputs: &[Tensor], f: impl Fn(&[Tensor]) -> Tensor) {
    let mut results = Vec::new();
    for device in [Device::Cpu, Device::Gpu] {
        let leaves: Vec<Tensor> = inputs.iter().map(|t| leaf(t, device)).collect();
        let out = f(&leaves);
        let w = random(out.shape(), 99).to_device(device).unwrap();
        crate::autograd::backward(&ops::sum(&ops::mul(&out, &w).unwrap(), None, false).unwrap(), None, false).unwrap();
        let grads: Vec<Tensor> = leaves.iter().map(|l| l.grad().expect("a gradient")).collect();
        results.push((out, grads));
    }
    let (gpu, cpu) = (&results[1], &results[0]);
    assert_close(&gpu.0, &cpu.0, 1e-4);
    for (g, c) in gpu.1.iter().zip(&cpu.1) {
        assert_close(g, c, 1e-4);
    }
}

fn spec(strides: [usize; 2], dilation: [usize; 2], padding: Padding, groups: usize) -> ConvSpec {
    ConvSpec { strides, dilation, padding, groups }
}

#[test]
fn conv2d_matches_cpu() {
    if !gpu_or_skip() {
        return;
    }
    let relu = DenseActivation::Elementwise(Activation::Relu);
    for &(batch, size, cin, cout, k, s, d, padding, groups) in &[
        (1, 4, 1, 1, 1, [1, 1], [1, 1], Padding::Valid, 1),
        (3, 17, 3, 17, 3, [2, 1], [1, 1], Padding::Same, 1),
        (1, 9, 4, 6, 3, [1, 1], [2, 2], Padding::Valid, 2),
        (3, 8, 3, 3, 3, [1, 1], [1, 1], Padding::Same, 3),
    ] {
        let x = random(&[batch, size, size, cin], 1);
        let kernel = random(&[k, k, cin / groups, cout], 2);
        let bias = random(&[cout], 3);
        let sp = spec(s, d, padding, groups);
        parity(&[x, kernel, bias], |t| conv2d(&t[0], &t[1], Some(&t[2]), &sp, relu).unwrap());
    }
}

#[test]
fn conv2d_transpose_matches_cpu() {
    if !gpu_or_skip() {
        return;
    }
    let x = random(&[3, 5, 7, 3], 4);
    let kernel = random(&[3, 2, 4, 3], 5);
    for padding in [Padding::Valid, Padding::Same] {
        let sp = spec([2, 3], [1, 1], padding, 1);
        parity(&[x.clone(), kernel.clone()], |t| conv2d_transpose(&t[0], &t[1], None, &sp, None, LINEAR).unwrap());
    }
}

#[test]
fn pool_spatial_and_concat_match_cpu() {
    if !gpu_or_skip() {
        return;
    }
    use crate::ops::pool::{pool2d, PoolKind};
    let x = random(&[3, 17, 9, 3], 6);
    for kind in [PoolKind::Max, PoolKind::Average] {
        for padding in [Padding::Valid, Padding::Same] {
            parity(std::slice::from_ref(&x), |t| pool2d(&t[0], kind, [3, 2], [2, 1], padding).unwrap());
        }
    }
    parity(std::slice::from_ref(&x), |t| ops::max(&t[0], Some(&[1, 2]), false).unwrap());
    parity(std::slice::from_ref(&x), |t| ops::spatial::zero_pad2d(&t[0], 1, 2, 0, 3).unwrap());
    parity(std::slice::from_ref(&x), |t| ops::spatial::upsample_nearest2d(&t[0], 2, 3).unwrap());
    let y = random(&[3, 17, 2, 3], 7);
    parity(&[x, y], |t| ops::concat(&[&t[0], &t[1]], 2).unwrap());
}

/// Every CNN shader parses and validates with naga (no adapter needed), and has the entry
/// points the kernels launch.
#[test]
fn cnn_shaders_validate() {
    use wgpu::naga;
    let pool = crate::gpu::kernels::pool_shader_source();
    let shaders = [
        ("pool", pool.as_str(), &["max_pool_f32", "average_pool_f32", "max_pool_backward_f32", "average_pool_backward_f32"][..]),
        ("spatial", include_str!("shaders/spatial.wgsl"), &["zero_pad2d_f32"][..]),
        ("concat", include_str!("shaders/concat.wgsl"), &["concatenate_f32"][..]),
    ];
    // conv.wgsl has placeholders: every tile variant, with the identity epilogue and with a
    // fused bias and activation.
    let conv_entries = &["conv2d_f32", "conv2d_backward_input_f32", "conv2d_backward_kernel_f32", "conv2d_backward_kernel_reduce_f32"][..];
    let (sigmoid, _) = crate::gpu::activation::forward(crate::cpu::activation::Activation::Sigmoid, "x");
    let fused = format!("{}@group(0) @binding(4) var<storage, read> bias: array<f32>;\nfn epilogue(v: f32, col: u32) -> f32 {{ let x = v + bias[col]; return {sigmoid}; }}\n", include_str!("shaders/math.wgsl"));
    let conv_variants: Vec<String> = (0..crate::gpu::kernels::CONV_TILE_VARIANTS)
        .flat_map(|i| [crate::gpu::kernels::conv_shader_source(i, &crate::gpu::kernels::conv_plain_epilogue()), crate::gpu::kernels::conv_shader_source(i, &fused)])
        .collect();
    let variants = conv_variants.iter().map(|s| ("conv (tile and epilogue variant)", s.as_str(), conv_entries));
    for (name, source, entries) in shaders.into_iter().chain(variants) {
        let module = naga::front::wgsl::parse_str(source).unwrap_or_else(|e| panic!("{name}.wgsl: {}", e.emit_to_string(source)));
        naga::valid::Validator::new(naga::valid::ValidationFlags::all(), naga::valid::Capabilities::empty())
            .validate(&module)
            .unwrap_or_else(|e| panic!("{name}.wgsl: {}", e.emit_to_string(source)));
        for entry in entries {
            assert!(module.entry_points.iter().any(|e| e.name == *entry), "{name}.wgsl has no entry point {entry}");
        }
    }
}
