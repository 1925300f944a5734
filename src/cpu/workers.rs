//! A small spin-then-park thread pool for every parallel kernel (GEMM parts, chunked
//! elementwise loops, reductions, optimizer updates). Why not rayon: a
//! fork-join from outside rayon's pool pays three futex wake-ups (the job, the helper, the
//! caller), 50-150 us on the VMs we measure; that made a two-thread 256^3 GEMM (0.3 ms) no faster
//! than one thread. Here the caller runs part 0 itself, and idle workers spin for a short while
//! before parking, as OpenBLAS's threads do, so back-to-back calls find them awake.
//! Only the caller that holds `busy` posts jobs, so one job is live at a time.

use std::cell::Cell;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};
use std::thread::{self, Thread};
use std::time::{Duration, Instant};

/// How long an idle worker spins before parking.
const SPIN: Duration = Duration::from_micros(200);

/// One posted job: parts are claimed with `next`; `done` counts finished parts.
struct Job {
    run: *const (dyn Fn(usize) + Sync),
    parts: usize,
    next: AtomicUsize,
    done: AtomicUsize,
}

struct Shared {
    /// Bumped for every job; workers compare it with the last one they saw.
    epoch: AtomicUsize,
    /// The current job's address, or 0 between jobs.
    job: AtomicUsize,
    /// Workers between announcing themselves and leaving a job: the poster waits for zero
    /// before its job (on its stack) goes away.
    active: AtomicUsize,
}

struct Pool {
    shared: &'static Shared,
    workers: Vec<Thread>,
    /// One caller at a time; others (another Python thread) run serially instead of waiting.
    busy: Mutex<()>,
}

thread_local! {
    static IN_POOL: Cell<bool> = const { Cell::new(false) };
}

fn pool() -> &'static Pool {
    static POOL: OnceLock<Pool> = OnceLock::new();
    POOL.get_or_init(|| {
        let shared: &'static Shared = Box::leak(Box::new(Shared { epoch: AtomicUsize::new(0), job: AtomicUsize::new(0), active: AtomicUsize::new(0) }));
        let extra = super::parallel::threads().saturating_sub(1);
        let workers = (0..extra)
            .filter_map(|i| {
                thread::Builder::new()
                    .name(format!("ferronet-gemm-{i}"))
                    .spawn(move || worker(shared))
                    .ok()
                    .map(|h| h.thread().clone())
            })
            .collect();
        Pool { shared, workers, busy: Mutex::new(()) }
    })
}

/// Claim and run parts of `job` until none are left.
///
/// # Safety
/// `job` must point to a live `Job` whose `run` is live.
unsafe fn drain(job: *const Job) {
    let job = &*job;
    loop {
        let part = job.next.fetch_add(1, Ordering::AcqRel);
        if part >= job.parts {
            return;
        }
        (*job.run)(part);
        job.done.fetch_add(1, Ordering::AcqRel);
    }
}

fn worker(shared: &'static Shared) {
    IN_POOL.with(|f| f.set(true));
    let mut seen = 0usize;
    loop {
        let start = Instant::now();
        let mut spins = 0u32;
        loop {
            let epoch = shared.epoch.load(Ordering::Acquire);
            if epoch != seen {
                seen = epoch;
                break;
            }
            spins += 1;
            if spins % 64 == 0 && start.elapsed() > SPIN {
                thread::park_timeout(Duration::from_millis(50));
            } else {
                std::hint::spin_loop();
            }
        }
        // Announce before reading the job pointer (SeqCst on both sides): either the poster sees
        // us and waits, or we read the 0 it stored and skip.
        shared.active.fetch_add(1, Ordering::SeqCst);
        let job = shared.job.load(Ordering::SeqCst) as *const Job;
        if !job.is_null() {
            // SAFETY: the poster keeps the job alive until `active` is back to zero.
            unsafe { drain(job) };
        }
        shared.active.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Run `f(0), ..., f(parts - 1)` across the caller and the pool's workers; returns when all are
/// done. Falls back to running serially when called from a worker or while another caller holds
/// the pool.
pub fn run_parts(parts: usize, f: &(dyn Fn(usize) + Sync)) {
    let pool = pool();
    let guard = if IN_POOL.with(|p| p.get()) || pool.workers.is_empty() { None } else { pool.busy.try_lock().ok() };
    if guard.is_none() {
        (0..parts).for_each(f);
        return;
    }
    // SAFETY (lifetime erasure): `job` and `f` outlive every use below, because this function
    // does not return before `done == parts`, and no part is claimed after `next >= parts`.
    let run: *const (dyn Fn(usize) + Sync + 'static) = unsafe { std::mem::transmute(f as *const (dyn Fn(usize) + Sync)) };
    let job = Job { run, parts, next: AtomicUsize::new(0), done: AtomicUsize::new(0) };
    pool.shared.job.store(&job as *const Job as usize, Ordering::SeqCst);
    pool.shared.epoch.fetch_add(1, Ordering::AcqRel);
    for w in &pool.workers {
        w.unpark();
    }
    // SAFETY: `job` is alive for this whole scope.
    unsafe { drain(&job) };
    while job.done.load(Ordering::Acquire) < parts {
        std::hint::spin_loop();
    }
    pool.shared.job.store(0, Ordering::SeqCst);
    while pool.shared.active.load(Ordering::SeqCst) != 0 {
        std::hint::spin_loop();
    }
    drop(guard);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_part_runs_once() {
        for parts in [1, 2, 3, 17] {
            let hits: Vec<AtomicUsize> = (0..parts).map(|_| AtomicUsize::new(0)).collect();
            run_parts(parts, &|i| {
                hits[i].fetch_add(1, Ordering::Relaxed);
            });
            assert!(hits.iter().all(|h| h.load(Ordering::Relaxed) == 1));
        }
    }
}
