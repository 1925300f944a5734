//! Engine-level GPU checks against the CPU path (pytest covers the layers and the Python API).
//! Without an adapter they pass vacuously, unless FERRONET_REQUIRE_GPU=1 (as in CI).

use crate::ops;
use crate::tensor::{Device, Tensor};

pub(super) fn gpu_or_skip() -> bool {
    match super::probe() {
        Ok(_) => true,
        Err(why) => {
            assert!(std::env::var("FERRONET_REQUIRE_GPU").as_deref() != Ok("1"), "FERRONET_REQUIRE_GPU=1 but no GPU: {why}");
            false
        }
    }
}

pub(super) fn random(shape: &[usize], seed: u64) -> Tensor {
    let n: usize = shape.iter().product();
    let mut state = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
    let values = (0..n)
        .map(|_| {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            ((state >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
        })
        .collect();
    Tensor::from_vec(values, shape).unwrap()
}

pub(super) fn assert_close(gpu: &Tensor, cpu: &Tensor, tol: f32) {
    assert_eq!(gpu.shape(), cpu.shape());
    assert_eq!(gpu.device(), Device::Gpu);
    let g = gpu.try_cpu_values().unwrap_or_else(|e| panic!("{e}")).into_vec();
    let c = cpu.to_vec();
    for (i, (a, b)) in g.iter().zip(&c).enumerate() {
        assert!((a - b).abs() <= tol * (1.0 + b.abs()), "element {i}: gpu {a} vs cpu {b}");
    }
}

#[test]
fn round_trip_keeps_values() {
    if !gpu_or_skip() {
        return;
    }
    let x = random(&[3, 17], 1);
    let g = x.to_device(Device::Gpu).unwrap();
    assert_eq!(g.to_vec(), x.to_vec());
}

#[test]
fn matmul_matches_cpu_across_tile_edges() {
    if !gpu_or_skip() {
        return;
    }
    for &(m, k, n) in &[(1, 1, 1), (3, 17, 5), (65, 33, 129), (255, 64, 17)] {
        let (a, b) = (random(&[m, k], 2), random(&[k, n], 3));
        let want = ops::matmul(&a, &b).unwrap();
        let got = ops::matmul(&a.to_device(Device::Gpu).unwrap(), &b.to_device(Device::Gpu).unwrap()).unwrap();
        assert_close(&got, &want, 1e-5);
        // Transposed operands are read through strides.
        let at = ops::transpose(&a, None).unwrap();
        let bt = ops::transpose(&b, None).unwrap();
        let want = ops::matmul(&bt, &at).unwrap();
        let got = ops::matmul(&bt.to_device(Device::Gpu).unwrap(), &at.to_device(Device::Gpu).unwrap()).unwrap();
        assert_close(&got, &want, 1e-5);
    }
}

#[test]
fn broadcasting_binary_and_sum_match_cpu() {
    if !gpu_or_skip() {
        return;
    }
    let (a, b) = (random(&[4, 1, 5], 4), random(&[3, 1], 5));
    let (ga, gb) = (a.to_device(Device::Gpu).unwrap(), b.to_device(Device::Gpu).unwrap());
    assert_close(&ops::add(&ga, &gb).unwrap(), &ops::add(&a, &b).unwrap(), 1e-6);
    assert_close(&ops::div(&ga, &gb).unwrap(), &ops::div(&a, &b).unwrap(), 1e-5);
    let s = ops::sum(&ops::mul(&ga, &gb).unwrap(), Some(&[0, 2]), true).unwrap();
    assert_close(&s, &ops::sum(&ops::mul(&a, &b).unwrap(), Some(&[0, 2]), true).unwrap(), 1e-5);
    assert_close(&ops::softmax(&ga, 0).unwrap(), &ops::softmax(&a, 0).unwrap(), 1e-5);
}

/// Row sums, means and NaN-propagating maxima (NumPy's) from both variants of the reduction
/// kernels (subgroup operations where the adapter has them, and the portable tree), on widths that
/// cross subgroup and workgroup sizes, with NaN and infinities in the first, a middle and the
/// last subgroup and past the first 256 columns.
#[test]
fn row_reductions_of_both_variants_match_numpy_semantics() {
    use super::kernels::{reduce_rows, use_portable_kernels, RowReduce};
    if !gpu_or_skip() {
        return;
    }
    for portable in [true, false] {
        use_portable_kernels(portable);
        for cols in [1usize, 3, 9, 17, 255, 256, 1025] {
            let rows = 6;
            let mut values = random(&[rows, cols], cols as u64).to_vec();
            // Row 1: a NaN (in the last column); row 2: +inf; row 3: all -inf; row 4: -inf and NaN;
            // row 5: a NaN in the middle.
            values[cols + cols - 1] = f32::NAN;
            values[2 * cols + cols / 2] = f32::INFINITY;
            values[3 * cols..4 * cols].fill(f32::NEG_INFINITY);
            values[4 * cols] = f32::NEG_INFINITY;
            values[4 * cols + cols - 1] = f32::NAN;
            values[5 * cols + cols / 2] = f32::NAN;
            let x = Tensor::from_vec(values.clone(), &[rows, cols]).unwrap().to_device(Device::Gpu).unwrap();
            for how in [RowReduce::Sum, RowReduce::Mean, RowReduce::Max] {
                let got = Tensor::from_gpu(reduce_rows("test", &x, rows, cols, how).unwrap(), &[rows]).try_cpu_values().unwrap().into_vec();
                for (r, g) in got.iter().enumerate() {
                    let row = &values[r * cols..(r + 1) * cols];
                    let want = match how {
                        RowReduce::Sum => row.iter().map(|&v| v as f64).sum::<f64>() as f32,
                        RowReduce::Mean => (row.iter().map(|&v| v as f64).sum::<f64>() / cols as f64) as f32,
                        RowReduce::Max => row.iter().fold(f32::NEG_INFINITY, |m, &v| if m.is_nan() || v.is_nan() { f32::NAN } else { m.max(v) }),
                    };
                    let what = format!("{how:?} of row {r} of width {cols} (portable {portable})");
                    if want.is_nan() {
                        assert!(g.is_nan(), "{what}: {g}, expected NaN");
                    } else if want.is_infinite() {
                        assert_eq!(*g, want, "{what}");
                    } else {
                        assert!((g - want).abs() <= 1e-5 * (1.0 + want.abs()) * (cols as f32).sqrt(), "{what}: {g} vs {want}");
                    }
                }
            }
        }
    }
    use_portable_kernels(false);
}
