//! The tensor: a shared handle to a layout over a storage, plus the autograd fields. Cloning a
//! `Tensor` clones a handle; views (transpose, slice, broadcast) are new handles over the same
//! storage. Parameters are updated in place through `update_in_place`, which copies first when
//! the storage is still shared with a saved graph (copy-on-write), so a live graph never sees its
//! saved inputs change.

pub mod device;
pub mod layout;
pub mod shape;
pub mod storage;

use crate::autograd::{self, Backward, Node};
use crate::error::{Error, Result};
pub use device::Device;
pub use layout::Layout;
use parking_lot::{Mutex, RwLock};
use shape::fmt_shape;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
pub use storage::{CpuBuffer, Storage};

static NEXT_ID: AtomicUsize = AtomicUsize::new(1);

/// A float32 n-dimensional array that can record the ops applied to it.
#[derive(Clone)]
pub struct Tensor(Arc<TensorInner>);

pub(crate) struct TensorInner {
    id: usize,
    layout: Layout,
    storage: RwLock<Arc<Storage>>,
    requires_grad: AtomicBool,
    /// The op that made this tensor, while its graph is alive. `None` for leaves and after a
    /// non-retaining `backward()` freed the graph.
    node: Mutex<Option<Arc<Node>>>,
    /// Name of the op that made it (kept after the node is freed, for error messages).
    made_by: Option<&'static str>,
    /// A graph node was recorded for it: it is not a leaf, even after `backward()` frees the node.
    /// (An op result recorded without a node, e.g. under `no_grad`, is a leaf.)
    recorded: AtomicBool,
    grad: Mutex<Option<Tensor>>,
}

/// Read access to a tensor's values in row-major order: borrowed when the layout is contiguous,
/// gathered into a new buffer otherwise.
pub enum CpuValues {
    Shared { storage: Arc<Storage>, start: usize, len: usize },
    Gathered(Vec<f32>),
}

impl CpuValues {
    pub fn as_slice(&self) -> &[f32] {
        match self {
            CpuValues::Shared { storage, start, len } => match &**storage {
                Storage::Cpu(b) => &b.as_slice()[*start..*start + *len],
                Storage::Gpu(_) => unreachable!("GPU values are read back into Gathered"),
            },
            CpuValues::Gathered(v) => v,
        }
    }

    /// An owned copy, without copying when this already owns its buffer.
    pub fn into_vec(self) -> Vec<f32> {
        match self {
            CpuValues::Gathered(v) => v,
            shared => shared.as_slice().to_vec(),
        }
    }
}

impl Tensor {
    fn build(layout: Layout, storage: Arc<Storage>, node: Option<Arc<Node>>, made_by: Option<&'static str>) -> Self {
        let requires_grad = node.is_some();
        Tensor(Arc::new(TensorInner {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            layout,
            storage: RwLock::new(storage),
            requires_grad: AtomicBool::new(requires_grad),
            node: Mutex::new(node),
            made_by,
            recorded: AtomicBool::new(requires_grad),
            grad: Mutex::new(None),
        }))
    }

    /// A leaf tensor from row-major values.
    ///
    /// # Errors
    /// `Shape` when `values.len()` is not the product of `shape`.
    pub fn from_vec(values: Vec<f32>, shape: &[usize]) -> Result<Self> {
        let n = shape::checked_numel("tensor", shape)?;
        if n != values.len() {
            return Err(Error::shape(
                "tensor",
                format!("{n} values for shape {}", fmt_shape(shape)),
                format!("{} values", values.len()),
            ));
        }
        Ok(Self::from_storage(Layout::contiguous(shape), Arc::new(Storage::from_vec(values))))
    }

    /// A leaf tensor over an existing storage.
    pub fn from_storage(layout: Layout, storage: Arc<Storage>) -> Self {
        Self::build(layout, storage, None, None)
    }

    pub fn scalar(value: f32) -> Self {
        Self::from_storage(Layout::contiguous(&[]), Arc::new(Storage::from_vec(vec![value])))
    }

    pub fn full(shape: &[usize], value: f32) -> Self {
        Self::from_storage(Layout::contiguous(shape), Arc::new(Storage::from_vec(vec![value; shape::numel(shape)])))
    }

    pub fn zeros(shape: &[usize]) -> Self {
        Self::full(shape, 0.0)
    }

    /// The result of an op: records a graph node when grad mode is on and an input requires grad.
    /// `rule` receives the output (detached, sharing its storage, so saving it makes no cycle) and
    /// is only called when a node is recorded: saving tensors costs nothing otherwise.
    pub fn from_op<B: Backward + 'static>(
        op: &'static str,
        values: Vec<f32>,
        shape: &[usize],
        inputs: &[&Tensor],
        rule: impl FnOnce(Tensor) -> B,
    ) -> Self {
        let storage = Arc::new(Storage::from_vec(values));
        Self::from_op_layout(op, Layout::contiguous(shape), storage, inputs, rule)
    }

    /// Like `from_op`, for results that are views over an existing storage.
    pub fn from_op_layout<B: Backward + 'static>(
        op: &'static str,
        layout: Layout,
        storage: Arc<Storage>,
        inputs: &[&Tensor],
        rule: impl FnOnce(Tensor) -> B,
    ) -> Self {
        let out = Self::build(layout, storage, None, Some(op));
        if autograd::is_grad_enabled() && inputs.iter().any(|t| t.requires_grad()) {
            let node = Node { op, inputs: inputs.iter().map(|t| (*t).clone()).collect(), rule: Box::new(rule(out.detach())) };
            *out.0.node.lock() = Some(Arc::new(node));
            out.0.requires_grad.store(true, Ordering::Relaxed);
            out.0.recorded.store(true, Ordering::Relaxed);
        }
        out
    }

    pub fn id(&self) -> usize {
        self.0.id
    }
    pub fn layout(&self) -> &Layout {
        &self.0.layout
    }
    pub fn shape(&self) -> &[usize] {
        &self.0.layout.shape
    }
    pub fn ndim(&self) -> usize {
        self.0.layout.shape.len()
    }
    pub fn numel(&self) -> usize {
        self.0.layout.numel()
    }
    pub fn device(&self) -> Device {
        self.0.storage.read().device()
    }
    pub fn storage(&self) -> Arc<Storage> {
        self.0.storage.read().clone()
    }

    /// Values in row-major order (borrowed when contiguous). A GPU tensor is read back, which
    /// waits for the GPU; a failed read-back (a lost device) gives NaNs here, with the error on
    /// stderr. The model loops, `.numpy()` and `.item()` use `try_cpu_values`, which returns it.
    pub fn cpu_values(&self) -> CpuValues {
        self.try_cpu_values().unwrap_or_else(|e| {
            eprintln!("ferronet: reading a GPU tensor failed ({e}); its values read as NaN");
            CpuValues::Gathered(vec![f32::NAN; self.numel()])
        })
    }

    /// `cpu_values`, with a failed GPU read-back as an error.
    ///
    /// # Errors
    /// `Device` when the GPU cannot be read.
    pub fn try_cpu_values(&self) -> Result<CpuValues> {
        let storage = self.storage();
        let layout = &self.0.layout;
        if layout.numel() == 0 {
            // An empty view's offset may lie past the end of its (possibly empty) buffer.
            return Ok(CpuValues::Gathered(Vec::new()));
        }
        let buffer = match &*storage {
            Storage::Cpu(buffer) => buffer,
            Storage::Gpu(buffer) => {
                if layout.is_contiguous() {
                    return Ok(CpuValues::Gathered(buffer.download_range("read", layout.offset, layout.numel())?));
                }
                let copy = crate::gpu::kernels::contiguous_gpu("read", self)?;
                return copy.try_cpu_values();
            }
        };
        if layout.is_contiguous() {
            let len = layout.numel();
            return Ok(CpuValues::Shared { storage: storage.clone(), start: layout.offset, len });
        }
        let src = buffer.as_slice();
        let mut out = Vec::with_capacity(layout.numel());
        layout.for_each_index(|i| out.push(src[i]));
        Ok(CpuValues::Gathered(out))
    }

    /// Several tensors' values at once: GPU tensors are read with one submit and one wait.
    ///
    /// # Errors
    /// `Device` when the GPU cannot be read.
    pub fn read_all(tensors: &[&Tensor]) -> Result<Vec<Vec<f32>>> {
        let mut out: Vec<Option<Vec<f32>>> = vec![None; tensors.len()];
        let mut on_gpu: Vec<(usize, Tensor)> = Vec::new();
        for (i, t) in tensors.iter().enumerate() {
            if t.device() == Device::Gpu && t.numel() > 0 {
                on_gpu.push((i, crate::gpu::kernels::contiguous_gpu("read", t)?));
            } else {
                out[i] = Some(t.try_cpu_values()?.into_vec());
            }
        }
        if !on_gpu.is_empty() {
            let storages: Vec<Arc<Storage>> = on_gpu.iter().map(|(_, t)| t.storage()).collect();
            let mut parts = Vec::with_capacity(on_gpu.len());
            for ((_, t), s) in on_gpu.iter().zip(&storages) {
                let Storage::Gpu(b) = &**s else { unreachable!("chosen for living on the GPU") };
                parts.push((b, t.layout().offset, t.numel()));
            }
            for ((i, _), values) in on_gpu.iter().zip(crate::gpu::GpuBuffer::download_many("read", &parts)?) {
                out[*i] = Some(values);
            }
        }
        Ok(out.into_iter().map(|v| v.unwrap_or_default()).collect())
    }

    /// A row-major copy of the values.
    pub fn to_vec(&self) -> Vec<f32> {
        self.cpu_values().into_vec()
    }

    /// The single value of a one-element tensor.
    pub fn item(&self) -> Result<f32> {
        if self.numel() != 1 {
            return Err(Error::shape("item", "a tensor with one element", fmt_shape(self.shape())));
        }
        Ok(self.try_cpu_values()?.as_slice()[0])
    }

    /// A leaf tensor on `device` holding `values` (row-major, `shape`).
    ///
    /// # Errors
    /// `Shape` as `from_vec`; `Device` when the GPU is missing or the tensor too large for it.
    pub fn from_vec_on(values: Vec<f32>, shape: &[usize], device: Device) -> Result<Self> {
        let t = Self::from_vec(values, shape)?;
        match device {
            Device::Cpu => Ok(t),
            Device::Gpu => t.to_device(device),
        }
    }

    /// A leaf over a GPU kernel's row-major result.
    pub fn from_gpu(buffer: crate::gpu::GpuBuffer, shape: &[usize]) -> Self {
        Self::from_storage(Layout::contiguous(shape), Arc::new(Storage::Gpu(buffer)))
    }

    /// A row-major result of a GPU kernel, recorded as the output of `op` (like `from_op`).
    pub fn from_gpu_op<B: Backward + 'static>(op: &'static str, buffer: crate::gpu::GpuBuffer, shape: &[usize], inputs: &[&Tensor], rule: impl FnOnce(Tensor) -> B) -> Self {
        Self::from_op_layout(op, Layout::contiguous(shape), Arc::new(Storage::Gpu(buffer)), inputs, rule)
    }

    /// This tensor on `device`: itself when already there, else a copy. Differentiable: the
    /// gradient moves back to this tensor's device.
    ///
    /// # Errors
    /// `Device` when the GPU is missing, or the tensor exceeds what it can hold.
    pub fn to_device(&self, device: Device) -> Result<Tensor> {
        let from = self.device();
        if from == device {
            return Ok(self.clone());
        }
        let storage = match device {
            Device::Gpu => Storage::Gpu(crate::gpu::GpuBuffer::upload("to(gpu)", self.try_cpu_values()?.as_slice())?),
            Device::Cpu => Storage::from_vec(self.try_cpu_values()?.into_vec()),
        };
        let op = if device == Device::Gpu { "to(gpu)" } else { "to(cpu)" };
        Ok(Self::from_op_layout(op, Layout::contiguous(self.shape()), Arc::new(storage), &[self], move |_| {
            crate::ops::FnRule(move |g: &Tensor| Ok(vec![Some(g.to_device(from)?)]))
        }))
    }

    // ---- autograd fields -----------------------------------------------------------------

    pub fn requires_grad(&self) -> bool {
        self.0.requires_grad.load(Ordering::Relaxed)
    }

    /// Mark a leaf as a parameter (or not).
    ///
    /// # Errors
    /// `Value` when called on a tensor produced by an op (only leaves carry the flag).
    pub fn set_requires_grad(&self, flag: bool) -> Result<()> {
        if !self.is_leaf() {
            return Err(Error::value(
                "requires_grad",
                "a leaf tensor (use detach() to make one)",
                format!("a tensor of shape {} produced by {}", fmt_shape(self.shape()), self.0.made_by.unwrap_or("an op")),
            ));
        }
        self.0.requires_grad.store(flag, Ordering::Relaxed);
        Ok(())
    }

    pub fn is_leaf(&self) -> bool {
        !self.0.recorded.load(Ordering::Relaxed)
    }

    pub fn made_by(&self) -> Option<&'static str> {
        self.0.made_by
    }

    pub(crate) fn node(&self, take: bool) -> Option<Arc<Node>> {
        let mut guard = self.0.node.lock();
        if take {
            guard.take()
        } else {
            guard.clone()
        }
    }

    /// Take the node out when this is the last handle to the tensor (so nothing else can reach
    /// the node through it); `Node`'s drop uses it to free long graphs without recursion.
    pub(crate) fn take_node_if_last_handle(&self) -> Option<Arc<Node>> {
        if Arc::strong_count(&self.0) == 1 {
            self.0.node.lock().take()
        } else {
            None
        }
    }

    pub fn grad(&self) -> Option<Tensor> {
        self.0.grad.lock().clone()
    }

    /// Replace the gradient by `f(current)` while holding its lock, so backward passes running
    /// on several threads accumulate into a shared parameter without losing contributions.
    ///
    /// # Errors
    /// Whatever `f` returns; the gradient is then left unchanged.
    pub fn update_grad(&self, f: impl FnOnce(Option<&Tensor>) -> Result<Tensor>) -> Result<()> {
        let mut slot = self.0.grad.lock();
        let new = f(slot.as_ref())?;
        *slot = Some(new);
        Ok(())
    }

    pub fn set_grad(&self, grad: Option<Tensor>) {
        *self.0.grad.lock() = grad;
    }

    /// Take the gradient out, leaving `None` (what an optimizer step does).
    pub fn take_grad(&self) -> Option<Tensor> {
        self.0.grad.lock().take()
    }

    /// A leaf sharing this tensor's values, outside any graph.
    pub fn detach(&self) -> Tensor {
        Tensor::from_storage(self.0.layout.clone(), self.storage())
    }

    /// Run `f` on this tensor's values for writing. The tensor must be contiguous and cover its
    /// whole buffer (parameters are). Copies first when the buffer is shared (copy-on-write).
    ///
    /// # Errors
    /// `Value` when the tensor is a view.
    pub fn update_in_place<R>(&self, f: impl FnOnce(&mut [f32]) -> R) -> Result<R> {
        let layout = &self.0.layout;
        let mut guard = self.0.storage.write();
        if !layout.is_contiguous() || layout.offset != 0 || guard.len() != layout.numel() {
            return Err(Error::value("update_in_place", "a contiguous tensor that owns its buffer", "a view"));
        }
        if let Storage::Gpu(buffer) = &**guard {
            // Host code (an optimizer without a GPU kernel, set_weights) edits a GPU tensor
            // through a round trip; the new buffer replaces the old, so a saved graph keeps its.
            let mut values = buffer.download("update_in_place")?;
            let r = f(&mut values);
            *guard = Arc::new(Storage::Gpu(crate::gpu::GpuBuffer::upload("update_in_place", &values)?));
            return Ok(r);
        }
        if Arc::get_mut(&mut guard).is_none() {
            let copy = guard.duplicate()?;
            *guard = Arc::new(copy);
        }
        let storage = Arc::get_mut(&mut guard).expect("unique after the copy above");
        match storage {
            Storage::Cpu(buffer) => Ok(f(buffer.make_mut())),
            Storage::Gpu(_) => unreachable!("handled above"),
        }
    }

    /// Let a GPU kernel write this tensor's buffer in place (`f` records the kernel). Like
    /// `update_in_place`, it copies first when the buffer is still shared with a saved graph.
    ///
    /// # Errors
    /// `Value` for a view or a tensor not on the GPU; whatever `f` returns.
    pub fn update_on_gpu<R>(&self, f: impl FnOnce(&Storage) -> Result<R>) -> Result<R> {
        let layout = &self.0.layout;
        let mut guard = self.0.storage.write();
        if !layout.is_contiguous() || layout.offset != 0 || guard.len() != layout.numel() || guard.device() != Device::Gpu {
            return Err(Error::value("update_on_gpu", "a contiguous GPU tensor that owns its buffer", format!("a view or a tensor on {}", guard.device())));
        }
        if Arc::get_mut(&mut guard).is_none() {
            let copy = guard.duplicate()?;
            *guard = Arc::new(copy);
        }
        f(&guard)
    }

    /// Replace the values by a GPU kernel's result (`buffer`, row-major, one value per element):
    /// device-side state such as BatchNormalization's moving statistics updates this way with no
    /// read-back. The new buffer replaces the old, so a saved graph keeps its values.
    ///
    /// # Errors
    /// `Value` for a view or a tensor not on the GPU; `Shape` when the lengths differ.
    pub fn replace_with_gpu(&self, buffer: crate::gpu::GpuBuffer) -> Result<()> {
        let layout = &self.0.layout;
        let mut guard = self.0.storage.write();
        if !layout.is_contiguous() || layout.offset != 0 || guard.len() != layout.numel() || guard.device() != Device::Gpu {
            return Err(Error::value("replace_with_gpu", "a contiguous GPU tensor that owns its buffer", "a view or a CPU tensor"));
        }
        if buffer.len() != layout.numel() {
            return Err(Error::shape("replace_with_gpu", format!("{} values for shape {}", layout.numel(), fmt_shape(&layout.shape)), format!("{} values", buffer.len())));
        }
        *guard = Arc::new(Storage::Gpu(buffer));
        Ok(())
    }

    /// Move this tensor's values to `device` in place: the same tensor (same id, gradient flag,
    /// and every handle to it) now lives there. What a model does to its weights when it is
    /// placed on a device.
    ///
    /// # Errors
    /// `Value` for a view; `Device` when the GPU is missing or too small.
    pub fn move_to(&self, device: Device) -> Result<()> {
        if self.device() == device {
            return Ok(());
        }
        let layout = &self.0.layout;
        let mut guard = self.0.storage.write();
        if !layout.is_contiguous() || layout.offset != 0 || guard.len() != layout.numel() {
            return Err(Error::value("move_to", "a contiguous tensor that owns its buffer", "a view"));
        }
        let storage = match (&**guard, device) {
            (Storage::Cpu(b), Device::Gpu) => Storage::Gpu(crate::gpu::GpuBuffer::upload("to(gpu)", b.as_slice())?),
            (Storage::Gpu(b), Device::Cpu) => Storage::from_vec(b.download("to(cpu)")?),
            _ => return Ok(()),
        };
        *guard = Arc::new(storage);
        drop(guard);
        // A gradient left from before the move would mix devices in the next update.
        let mut grad = self.0.grad.lock();
        if let Some(g) = grad.take() {
            *grad = Some(g.to_device(device)?);
        }
        Ok(())
    }

    /// Replace the values (same shape), e.g. `set_weights`.
    ///
    /// # Errors
    /// `Shape` when the number of values differs.
    pub fn assign(&self, values: &[f32]) -> Result<()> {
        if values.len() != self.numel() {
            return Err(Error::shape(
                "assign",
                format!("{} values for shape {}", self.numel(), fmt_shape(self.shape())),
                format!("{} values", values.len()),
            ));
        }
        self.update_in_place(|dst| dst.copy_from_slice(values))
    }

    /// Number of live handles to this tensor's storage (tests use it to see graphs freed).
    pub fn storage_refcount(&self) -> usize {
        Arc::strong_count(&self.0.storage.read())
    }
}

impl std::fmt::Debug for Tensor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Tensor(shape={}, requires_grad={})", fmt_shape(self.shape()), self.requires_grad())
    }
}
