//! Broadcasting elementwise binary kernel. Fast paths cover the shapes training produces (same
//! shape, a scalar, a row vector such as a bias); everything else walks the broadcast layouts.

use super::{zip_map, CHUNK, PARALLEL_MIN_ELEMENTS};
use crate::tensor::layout::Layout;

/// `out = f(a, b)` with NumPy broadcasting. `a` and `b` are row-major values of shapes `a_shape`
/// and `b_shape`; `out_shape` is their (already checked) broadcast shape.
pub fn broadcast_zip(
    a: &[f32],
    a_shape: &[usize],
    b: &[f32],
    b_shape: &[usize],
    out_shape: &[usize],
    f: impl Fn(f32, f32) -> f32 + Sync,
) -> Vec<f32> {
    let n: usize = out_shape.iter().product();
    if a.len() == n && b.len() == n {
        return zip_map(a, b, f);
    }
    if b.len() == 1 && a.len() == n {
        let s = b[0];
        return super::map(a, |x| f(x, s));
    }
    if a.len() == 1 && b.len() == n {
        let s = a[0];
        return super::map(b, |y| f(s, y));
    }
    // Row broadcast: one operand is the full output, the other repeats along leading axes.
    if a.len() == n && is_trailing_block(b_shape, out_shape) {
        return rows(a, b, n, |x, y| f(x, y));
    }
    if b.len() == n && is_trailing_block(a_shape, out_shape) {
        return rows(b, a, n, |y, x| f(x, y));
    }
    let la = Layout::contiguous(a_shape).broadcast_to(out_shape);
    let lb = Layout::contiguous(b_shape).broadcast_to(out_shape);
    let mut ia = Vec::with_capacity(n);
    la.for_each_index(|i| ia.push(i));
    let mut out = Vec::with_capacity(n);
    let mut k = 0;
    lb.for_each_index(|j| {
        out.push(f(a[ia[k]], b[j]));
        k += 1;
    });
    out
}

/// `small` broadcast over the leading axes of `out` (its shape, without leading ones, is a
/// suffix of `out`'s).
fn is_trailing_block(small: &[usize], out: &[usize]) -> bool {
    let trimmed: Vec<usize> = small.iter().copied().skip_while(|&d| d == 1).collect();
    trimmed.len() <= out.len() && out[out.len() - trimmed.len()..] == trimmed[..]
}

fn rows(full: &[f32], row: &[f32], n: usize, f: impl Fn(f32, f32) -> f32 + Sync) -> Vec<f32> {
    let w = row.len();
    let mut out = vec![0.0f32; n];
    let fill = |o: &mut [f32], src: &[f32]| {
        for (oc, sc) in o.chunks_mut(w).zip(src.chunks(w)) {
            for i in 0..oc.len() {
                oc[i] = f(sc[i], row[i]);
            }
        }
    };
    if w > 0 {
        let rows_per_chunk = (CHUNK / w).max(1) * w;
        super::parallel::for_each_chunk_mut(&mut out, rows_per_chunk, n >= PARALLEL_MIN_ELEMENTS, |c, o| {
            fill(o, &full[c * rows_per_chunk..c * rows_per_chunk + o.len()])
        });
    }
    out
}

/// Sum `grad` (of shape `from`) down to `to`, undoing a broadcast.
pub fn sum_to_shape(grad: &[f32], from: &[usize], to: &[usize]) -> Vec<f32> {
    let n_to: usize = to.iter().product();
    if from == to {
        return grad.to_vec();
    }
    if n_to == 0 {
        return Vec::new();
    }
    if n_to == 1 {
        return vec![super::reduce::sum_all(grad)];
    }
    // Row broadcast: `to` is a trailing block of `from`: add the rows up in order.
    if is_trailing_block(to, from) {
        let w = n_to;
        let mut out = vec![0.0f32; w];
        for row in grad.chunks(w) {
            for i in 0..w {
                out[i] += row[i];
            }
        }
        return out;
    }
    let layout = Layout::contiguous(to).broadcast_to(from);
    let mut out = vec![0.0f32; n_to];
    let mut k = 0;
    layout.for_each_index(|j| {
        out[j] += grad[k];
        k += 1;
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broadcasts_rows_columns_and_scalars() {
        let a = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0];
        let add = |x: f32, y: f32| x + y;
        assert_eq!(broadcast_zip(&a, &[2, 3], &[10.0, 20.0, 30.0], &[3], &[2, 3], add), vec![11.0, 22.0, 33.0, 14.0, 25.0, 36.0]);
        assert_eq!(broadcast_zip(&a, &[2, 3], &[10.0, 20.0], &[2, 1], &[2, 3], add), vec![11.0, 12.0, 13.0, 24.0, 25.0, 26.0]);
        assert_eq!(broadcast_zip(&[1.0], &[], &a, &[2, 3], &[2, 3], add), vec![2.0, 3.0, 4.0, 5.0, 6.0, 7.0]);
        assert_eq!(broadcast_zip(&[1.0, 2.0], &[2, 1], &[10.0, 20.0], &[1, 2], &[2, 2], add), vec![11.0, 21.0, 12.0, 22.0]);
    }

    #[test]
    fn sum_to_shape_undoes_broadcast() {
        let g = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0];
        assert_eq!(sum_to_shape(&g, &[2, 3], &[3]), vec![5.0, 7.0, 9.0]);
        assert_eq!(sum_to_shape(&g, &[2, 3], &[2, 1]), vec![6.0, 15.0]);
        assert_eq!(sum_to_shape(&g, &[2, 3], &[]), vec![21.0]);
        assert_eq!(sum_to_shape(&[], &[2, 0], &[0]), Vec::<f32>::new());
    }
}
