//! How a tensor's elements map onto its buffer: shape, strides (in elements, possibly negative or
//! zero for broadcasts) and a start offset. Transposes, slices and broadcasts are new layouts over
//! the same buffer; kernels that need row-major data ask for a contiguous copy.

use super::shape::{contiguous_strides, numel};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    pub shape: Vec<usize>,
    pub strides: Vec<isize>,
    pub offset: usize,
}

impl Layout {
    pub fn contiguous(shape: &[usize]) -> Self {
        Layout { shape: shape.to_vec(), strides: contiguous_strides(shape), offset: 0 }
    }

    pub fn numel(&self) -> usize {
        numel(&self.shape)
    }

    pub fn ndim(&self) -> usize {
        self.shape.len()
    }

    /// Row-major with no gaps (offset may be non-zero: a contiguous run inside a larger buffer).
    pub fn is_contiguous(&self) -> bool {
        if self.numel() == 0 {
            return true; // no element to misplace (`contiguous(&[2, 0])` has no row-major strides)
        }
        let mut expected = 1isize;
        for i in (0..self.shape.len()).rev() {
            if self.shape[i] != 1 && self.strides[i] != expected {
                return false;
            }
            expected *= self.shape[i] as isize;
        }
        true
    }

    /// Swap two axes (a view).
    pub fn transposed(&self, a: usize, b: usize) -> Self {
        let mut out = self.clone();
        out.shape.swap(a, b);
        out.strides.swap(a, b);
        out
    }

    /// Reorder axes (a view).
    pub fn permuted(&self, axes: &[usize]) -> Self {
        Layout {
            shape: axes.iter().map(|&a| self.shape[a]).collect(),
            strides: axes.iter().map(|&a| self.strides[a]).collect(),
            offset: self.offset,
        }
    }

    /// Broadcast to `target` (a view with zero strides); caller has checked compatibility.
    pub fn broadcast_to(&self, target: &[usize]) -> Self {
        let lead = target.len() - self.shape.len();
        let mut strides = vec![0isize; target.len()];
        for i in 0..self.shape.len() {
            strides[lead + i] = if self.shape[i] == 1 && target[lead + i] != 1 { 0 } else { self.strides[i] };
        }
        Layout { shape: target.to_vec(), strides, offset: self.offset }
    }

    /// Buffer index of every element, in row-major order of this layout.
    pub fn for_each_index(&self, mut f: impl FnMut(usize)) {
        let n = self.numel();
        if n == 0 {
            return;
        }
        let nd = self.shape.len();
        if nd == 0 {
            f(self.offset);
            return;
        }
        let inner = self.shape[nd - 1];
        let inner_stride = self.strides[nd - 1];
        let mut index = vec![0usize; nd];
        let mut base = self.offset as isize;
        loop {
            let mut p = base;
            for _ in 0..inner {
                f(p as usize);
                p += inner_stride;
            }
            // advance the outer index (all axes but the last)
            let mut axis = nd - 1;
            loop {
                if axis == 0 {
                    return;
                }
                axis -= 1;
                index[axis] += 1;
                base += self.strides[axis];
                if index[axis] < self.shape[axis] {
                    break;
                }
                base -= self.strides[axis] * self.shape[axis] as isize;
                index[axis] = 0;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transposed_layout_walks_columns() {
        let l = Layout::contiguous(&[2, 3]).transposed(0, 1);
        let mut seen = vec![];
        l.for_each_index(|i| seen.push(i));
        assert_eq!(seen, vec![0, 3, 1, 4, 2, 5]);
        assert!(!l.is_contiguous());
    }

    #[test]
    fn empty_layouts_are_contiguous() {
        assert!(Layout::contiguous(&[2, 0]).is_contiguous());
        assert!(Layout::contiguous(&[3, 0, 2]).is_contiguous());
    }

    #[test]
    fn broadcast_layout_repeats() {
        let l = Layout::contiguous(&[3]).broadcast_to(&[2, 3]);
        let mut seen = vec![];
        l.for_each_index(|i| seen.push(i));
        assert_eq!(seen, vec![0, 1, 2, 0, 1, 2]);
    }
}
