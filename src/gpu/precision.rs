//! Matmul precision on the GPU, as PyTorch's `torch.set_float32_matmul_precision`: by default
//! every GEMM is f32 throughout; "medium" lets a GEMM round its operands to f16 in workgroup memory
//! (half the traffic and space per tile) while products and sums stay f32, on adapters with
//! `shader-f16`. A process-wide setting, read when a GEMM is recorded.

use std::sync::atomic::{AtomicBool, Ordering};

static REDUCED: AtomicBool = AtomicBool::new(false);

/// Allow (or forbid) f16 operands in GPU GEMMs.
pub fn set_reduced_matmul_precision(reduced: bool) {
    REDUCED.store(reduced, Ordering::Relaxed);
}

/// Whether GPU GEMMs may round their operands to f16.
pub fn reduced_matmul_precision() -> bool {
    REDUCED.load(Ordering::Relaxed)
}
