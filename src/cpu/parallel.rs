//! Data-parallel loops on `cpu::workers`: fixed-size chunks, claimed dynamically, each written by
//! exactly one thread. Results never depend on the thread count (chunk boundaries are fixed).

use super::workers;
use std::sync::OnceLock;

static THREADS: OnceLock<usize> = OnceLock::new();

/// Threads the kernels use: `FERRONET_NUM_THREADS`, else `RAYON_NUM_THREADS` (read by earlier
/// versions and by our benchmarks), else the cores this process may run on. Fixed on first use.
pub fn threads() -> usize {
    *THREADS.get_or_init(|| {
        ["FERRONET_NUM_THREADS", "RAYON_NUM_THREADS"]
            .iter()
            .find_map(|k| std::env::var(k).ok().and_then(|v| v.trim().parse::<usize>().ok()).filter(|&n| n > 0))
            .unwrap_or_else(|| std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1))
    })
}

/// Fix the thread count at `n` (at least 1) unless a kernel already fixed it; returns the count
/// in force. Data-parallel ranks sharing a machine call this before training, so that N ranks
/// do not each start one worker per core.
pub fn set_threads(n: usize) -> usize {
    let _ = THREADS.set(n.max(1));
    threads()
}

/// A raw pointer handed to the parts; each part touches a disjoint range.
pub(crate) struct SharedMut<T>(pub *mut T);
// SAFETY: used only to give disjoint chunks of one exclusively borrowed slice to the parts of a
// `workers::run_parts` call, which returns before the borrow ends.
unsafe impl<T> Send for SharedMut<T> {}
unsafe impl<T> Sync for SharedMut<T> {}

/// `f(index, chunk)` for every `chunk`-sized piece of `out` (the last may be shorter), in
/// parallel when `parallel` is true.
pub fn for_each_chunk_mut<T: Send>(out: &mut [T], chunk: usize, parallel: bool, f: impl Fn(usize, &mut [T]) + Sync) {
    let chunk = chunk.max(1);
    if !parallel || out.len() <= chunk || threads() < 2 {
        out.chunks_mut(chunk).enumerate().for_each(|(i, c)| f(i, c));
        return;
    }
    let n = out.len();
    let base = SharedMut(out.as_mut_ptr());
    let base = &base;
    workers::run_parts(n.div_ceil(chunk), &|i| {
        let start = i * chunk;
        let len = chunk.min(n - start);
        // SAFETY: chunk `i` is `[start, start + len)`, disjoint from every other part's.
        let piece = unsafe { std::slice::from_raw_parts_mut(base.0.add(start), len) };
        f(i, piece)
    });
}

/// `[f(0), ..., f(n - 1)]`, computed in parallel when `parallel` is true.
pub fn map_indices<T: Send + Default + Clone>(n: usize, parallel: bool, f: impl Fn(usize) -> T + Sync) -> Vec<T> {
    let mut out = vec![T::default(); n];
    for_each_chunk_mut(&mut out, 1, parallel, |i, slot| slot[0] = f(i));
    out
}
