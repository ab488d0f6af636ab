//! A crew of worker threads for one trainer's shards. Each step hands item `i` to worker `i`
//! (the calling thread takes item 0), always the same one, so a run is reproducible.
//!
//! Between steps the workers wait spinning, not sleeping: handing a step over then costs a
//! cache-line transfer instead of a wake-up through the kernel (tens of microseconds, as much
//! as a whole step of a small model). A worker left idle for longer (validation, sampling,
//! checkpoints, the end of training) parks until the next step.

use std::cell::UnsafeCell;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::*};
use std::sync::Arc;
use std::thread::{self, JoinHandle};

/// Busy-wait rounds before a waiting thread yields, then parks (a round is one `pause`).
const SPINS: u32 = 1 << 11;
const YIELDS: u32 = 64;

/// The job of the current step, type-erased: `job(i)` runs item `i`.
type Job = *const (dyn Fn(usize) + Sync);

struct Shared {
    /// Bumped for each step (and to quit); a worker runs when it sees a new value.
    generation: AtomicUsize,
    /// Workers done with the current step.
    done: AtomicUsize,
    quit: AtomicBool,
    panicked: AtomicBool,
    /// Written by the caller before `generation` is bumped (release) and read by the workers
    /// after they see it (acquire); points into the caller's frame, which waits for every
    /// worker before it returns.
    job: UnsafeCell<Option<Job>>,
}

// SAFETY: `job` is only written while no worker reads it (see its docs); the rest is atomic.
unsafe impl Sync for Shared {}
// SAFETY: as for `Sync`: the job pointer is only dereferenced under the protocol of `Crew::run`,
// whichever thread owns the `Arc`; the other fields are atomics.
unsafe impl Send for Shared {}

struct Worker {
    sleeping: Arc<AtomicBool>,
    handle: JoinHandle<()>,
}

/// `threads - 1` spinning workers plus the calling thread.
pub(crate) struct Crew {
    shared: Arc<Shared>,
    workers: Vec<Worker>,
}

impl Crew {
    /// Start `threads - 1` workers.
    pub fn new(threads: usize) -> std::io::Result<Crew> {
        let shared = Arc::new(Shared {
            generation: AtomicUsize::new(0),
            done: AtomicUsize::new(0),
            quit: AtomicBool::new(false),
            panicked: AtomicBool::new(false),
            job: UnsafeCell::new(None),
        });
        // Built first, so that a failed spawn drops it and its `Drop` stops the workers
        // already started.
        let mut crew = Crew {
            shared,
            workers: Vec::new(),
        };
        for index in 1..threads {
            let sleeping = Arc::new(AtomicBool::new(false));
            let (sh, sl) = (crew.shared.clone(), sleeping.clone());
            let handle = thread::Builder::new()
                .name(format!("charrnn-shard-{index}"))
                .spawn(move || work(&sh, &sl, index))?;
            crew.workers.push(Worker { sleeping, handle });
        }
        Ok(crew)
    }

    /// Threads in the crew, the caller's included.
    pub fn threads(&self) -> usize {
        self.workers.len() + 1
    }

    /// Run `f` on every item, item `i` on thread `i`; returns when all are done.
    ///
    /// # Panics
    /// If `items` is not one per thread, or `f` panicked on any thread.
    pub fn for_each_mut<S: Send>(&mut self, items: &mut [S], f: impl Fn(&mut S) + Sync) {
        assert_eq!(items.len(), self.threads(), "one item per crew thread");
        struct Items<S>(*mut S);
        // SAFETY: each index is taken by exactly one thread (below), so the `&mut`s are disjoint.
        unsafe impl<S: Send> Sync for Items<S> {}
        impl<S> Items<S> {
            /// # Safety
            /// `i` is in bounds of the slice and taken by one thread only.
            unsafe fn at(&self, i: usize) -> *mut S {
                // SAFETY: `i` is in bounds (the contract), so the offset stays inside the slice.
                unsafe { self.0.add(i) }
            }
        }
        let items = Items(items.as_mut_ptr());
        let job = |i: usize| {
            // SAFETY: i < items.len() (one per thread) and no other thread takes index i.
            f(unsafe { &mut *items.at(i) })
        };
        self.run(&job);
    }

    fn run(&mut self, job: &(dyn Fn(usize) + Sync)) {
        let sh = &*self.shared;
        sh.done.store(0, Relaxed);
        // SAFETY: no worker reads `job` until `generation` moves; this frame outlives every use
        // (it waits for all workers below, panics included), so erasing the lifetime is sound.
        unsafe {
            let erased: Job = std::mem::transmute::<*const (dyn Fn(usize) + Sync + '_), Job>(job);
            *sh.job.get() = Some(erased);
        }
        sh.generation.fetch_add(1, SeqCst);
        for w in &self.workers {
            if w.sleeping.load(SeqCst) {
                w.handle.thread().unpark();
            }
        }
        let mine = catch_unwind(AssertUnwindSafe(|| job(0)));
        wait(|| sh.done.load(Acquire) == self.workers.len());
        // SAFETY: every worker is done with the job.
        unsafe { *sh.job.get() = None };
        let theirs = sh.panicked.swap(false, Relaxed);
        if let Err(e) = mine {
            resume_unwind(e);
        }
        if theirs {
            panic!("a training thread panicked");
        }
    }
}

impl Drop for Crew {
    fn drop(&mut self) {
        self.shared.quit.store(true, SeqCst);
        self.shared.generation.fetch_add(1, SeqCst);
        for w in self.workers.drain(..) {
            w.handle.thread().unpark();
            let _ = w.handle.join();
        }
    }
}

/// Spin, then yield, until `ready`.
fn wait(ready: impl Fn() -> bool) {
    let mut n = 0u32;
    while !ready() {
        if n < SPINS {
            std::hint::spin_loop();
        } else {
            thread::yield_now();
        }
        n = n.saturating_add(1);
    }
}

fn work(sh: &Shared, sleeping: &AtomicBool, index: usize) {
    let mut seen = 0;
    loop {
        let mut n = 0u32;
        loop {
            let g = sh.generation.load(Acquire);
            if g != seen {
                seen = g;
                break;
            }
            if n < SPINS {
                std::hint::spin_loop();
            } else if n < SPINS + YIELDS {
                thread::yield_now();
            } else {
                // Announce the nap, then look once more: the caller bumps `generation` before
                // it reads `sleeping`, so one of the two sees the other.
                sleeping.store(true, SeqCst);
                if sh.generation.load(SeqCst) == seen {
                    thread::park();
                }
                sleeping.store(false, SeqCst);
                n = 0;
                continue;
            }
            n += 1;
        }
        if sh.quit.load(Acquire) {
            return;
        }
        // SAFETY: set before `generation` moved, kept until `done` counts this worker.
        let job = unsafe { (*sh.job.get()).expect("a job for this step") };
        // SAFETY: the job's frame waits for this worker (see `Crew::run`).
        if let Err(payload) = catch_unwind(AssertUnwindSafe(|| unsafe { (*job)(index) })) {
            sh.panicked.store(true, Relaxed);
            // Leaked, not dropped: a payload whose drop panicked would end this thread
            // before it counts itself done, and the caller would wait forever.
            std::mem::forget(payload);
        }
        sh.done.fetch_add(1, Release);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_item_runs_once_per_step_on_its_own_thread() {
        for threads in [1, 2, 3, 5] {
            let mut crew = Crew::new(threads).unwrap();
            let mut items: Vec<(usize, Option<thread::ThreadId>)> = vec![(0, None); threads];
            for step in 0..200 {
                crew.for_each_mut(&mut items, |it| {
                    it.0 += 1;
                    let me = thread::current().id();
                    assert!(it.1.is_none_or(|t| t == me), "item moved thread");
                    it.1 = Some(me);
                });
                assert!(items.iter().all(|it| it.0 == step + 1));
            }
            if threads > 1 {
                assert_ne!(items[0].1, items[1].1);
            }
        }
    }

    #[test]
    #[ignore = "slow: sleeps 300 ms for the worker to park; run with `cargo test -- --ignored`"]
    fn workers_wake_after_parking() {
        let mut crew = Crew::new(2).unwrap();
        let mut items = [0u32; 2];
        crew.for_each_mut(&mut items, |x| *x += 1);
        // Long enough for the worker to spin out and park.
        thread::sleep(std::time::Duration::from_millis(300));
        crew.for_each_mut(&mut items, |x| *x += 1);
        assert_eq!(items, [2, 2]);
    }

    #[test]
    fn a_panic_on_a_worker_reaches_the_caller() {
        let mut crew = Crew::new(2).unwrap();
        let mut items = [0u32, 1];
        let r = catch_unwind(AssertUnwindSafe(|| {
            crew.for_each_mut(&mut items, |x| assert_eq!(*x, 0, "boom"))
        }));
        assert!(r.is_err());
        // The crew still works.
        crew.for_each_mut(&mut items, |x| *x = 7);
        assert_eq!(items, [7, 7]);
    }

    #[test]
    fn a_step_after_panics_on_both_sides_runs_clean() {
        let mut crew = Crew::new(2).unwrap();
        let mut items = [0u32, 1];
        let r = catch_unwind(AssertUnwindSafe(|| {
            crew.for_each_mut(&mut items, |_| panic!("both threads"))
        }));
        assert!(r.is_err());
        // The worker's panic is not carried over into the next step.
        crew.for_each_mut(&mut items, |x| *x = 3);
        assert_eq!(items, [3, 3]);
    }
}
