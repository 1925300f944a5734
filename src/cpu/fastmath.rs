//! Branch-free `exp`, `sigmoid` and `tanh` over slices, for the recurrent cells, where the gate
//! nonlinearities are as much work as the recurrent GEMM: libm's scalar `tanhf`/`expf` cost
//! 5-20 ns each and do not vectorise. These are Cephes's single-precision polynomials (about
//! 2 ulp), written without branches so LLVM vectorises them, and compiled a second time with
//! AVX2 + FMA, picked at run time: the crate itself targets baseline x86-64.

const LOG2E: f32 = std::f32::consts::LOG2_E;
const LN2_HI: f32 = 0.693_359_4;
const LN2_LO: f32 = -2.121_944_4e-4;
/// 1.5 * 2^23: adding it rounds a float to an integer in its low mantissa bits.
const ROUND_MAGIC: f32 = 12_582_912.0;

#[inline(always)]
fn exp_approx(x: f32) -> f32 {
    // Clamp so 2^k stays a normal float; exp(-87.3) ~ 1e-38 is zero for every use here.
    let x = x.clamp(-87.3, 88.7);
    let t = x * LOG2E + ROUND_MAGIC;
    let k = t - ROUND_MAGIC;
    let r = x - k * LN2_HI - k * LN2_LO;
    let p = ((((1.987_569_1e-4 * r + 1.398_199_9e-3) * r + 8.333_452e-3) * r + 4.166_579_6e-2) * r + 1.666_666_5e-1) * r + 5.000_000_1e-1;
    let e = p * r * r + r + 1.0;
    // 2^k from k's bits in t's mantissa (t = 1.5 * 2^23 + k): integer adds and a shift, which
    // vectorise; `k as i32` is a saturating conversion LLVM leaves scalar.
    e * f32::from_bits(t.to_bits().wrapping_sub(ROUND_MAGIC.to_bits()).wrapping_add(127) << 23)
}

#[inline(always)]
fn sigmoid_approx(x: f32) -> f32 {
    1.0 / (1.0 + exp_approx(-x))
}

#[inline(always)]
fn tanh_approx(x: f32) -> f32 {
    // Near zero `1 - 2 / (1 + e^2x)` cancels; Cephes's odd polynomial is exact to 1 ulp there.
    let z = x * x;
    let small = ((((-5.704_988_7e-3 * z + 2.063_908_9e-2) * z - 5.373_971_6e-2) * z + 1.333_144_2e-1) * z - 3.333_328_2e-1) * z * x + x;
    let large = 1.0 - 2.0 / (1.0 + exp_approx(2.0 * x));
    if x.abs() < 0.625 {
        small
    } else {
        large
    }
}

macro_rules! slice_kernel {
    ($name:ident, $generic:ident, $avx2:ident, $f:ident) => {
        /// The loop without run-time dispatch, for callers already compiled for AVX2
        /// (`with_simd`): inlined there, it vectorises 8 wide.
        #[inline(always)]
        pub(crate) fn $generic(x: &[f32], out: &mut [f32]) {
            out.iter_mut().zip(x).for_each(|(o, &v)| *o = $f(v));
        }

        #[cfg(target_arch = "x86_64")]
        #[target_feature(enable = "avx2,fma")]
        unsafe fn $avx2(x: &[f32], out: &mut [f32]) {
            $generic(x, out)
        }

        /// `out[i] = f(x[i])` (see the module docs for the accuracy).
        pub fn $name(x: &[f32], out: &mut [f32]) {
            debug_assert_eq!(x.len(), out.len());
            #[cfg(target_arch = "x86_64")]
            if avx2() {
                // SAFETY: the CPU supports AVX2 and FMA (checked at run time).
                return unsafe { $avx2(x, out) };
            }
            $generic(x, out)
        }
    };
}

slice_kernel!(sigmoid, sigmoid_generic, sigmoid_avx2, sigmoid_approx);
slice_kernel!(tanh, tanh_generic, tanh_avx2, tanh_approx);

/// Run `f` compiled for AVX2 + FMA when the CPU has them (and as is otherwise): code that
/// `f` inlines (the `#[inline(always)]` loops here) then vectorises 8 wide.
#[inline(always)]
pub fn with_simd<R>(f: impl FnOnce() -> R) -> R {
    #[cfg(target_arch = "x86_64")]
    if avx2() {
        // SAFETY: the CPU supports AVX2 and FMA (checked at run time).
        return unsafe { with_avx2(f) };
    }
    f()
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn with_avx2<R>(f: impl FnOnce() -> R) -> R {
    f()
}

#[cfg(target_arch = "x86_64")]
fn avx2() -> bool {
    // `is_x86_feature_detected!` caches its answer in an atomic: cheap per call.
    is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma")
}

#[cfg(test)]
mod tests {
    #[test]
    fn sigmoid_and_tanh_match_f64_to_a_few_ulp() {
        let xs: Vec<f32> = (-20_000..=20_000).map(|i| i as f32 * 0.005).chain([-100.0, -88.0, 88.0, 100.0, 1e-8, -1e-8, 0.0]).collect();
        let mut s = vec![0.0; xs.len()];
        let mut t = vec![0.0; xs.len()];
        super::sigmoid(&xs, &mut s);
        super::tanh(&xs, &mut t);
        for ((&x, &s), &t) in xs.iter().zip(&s).zip(&t) {
            let xs64 = 1.0 / (1.0 + (-(x as f64)).exp());
            let xt64 = (x as f64).tanh();
            assert!((s as f64 - xs64).abs() <= 4e-7 * xs64.abs().max(1e-30) + 1e-38, "sigmoid({x}) = {s}, want {xs64}");
            assert!((t as f64 - xt64).abs() <= 4e-7 * xt64.abs() + 1e-38, "tanh({x}) = {t}, want {xt64}");
        }
    }
}
