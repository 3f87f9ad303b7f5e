//! Refits run off the UI thread: the window never waits on a fit, and a newer request cancels an older one.

use crate::toy::{FitResult, FitSpec};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// What the worker sends back for one request.
pub struct FitOutcome {
    pub generation: u64,
    pub result: Result<Arc<FitResult>, String>,
    pub elapsed: Duration,
}

/// Shared progress of the running fit, read by the UI for its progress bar.
#[derive(Default)]
pub struct Progress {
    /// Epochs done over all divergences of the running request.
    pub done: AtomicUsize,
    pub total: AtomicUsize,
}

pub struct FitWorker {
    jobs: Option<Sender<(u64, FitSpec)>>,
    results: Receiver<FitOutcome>,
    latest: Arc<AtomicU64>,
    pub progress: Arc<Progress>,
    handle: Option<JoinHandle<()>>,
    next: u64,
}

impl FitWorker {
    /// `wake` is called when a result is ready (the app passes `ctx.request_repaint`).
    pub fn spawn(wake: Arc<dyn Fn() + Send + Sync>) -> FitWorker {
        let (job_tx, job_rx) = channel::<(u64, FitSpec)>();
        let (res_tx, res_rx) = channel();
        let latest = Arc::new(AtomicU64::new(0));
        let progress = Arc::new(Progress::default());
        let (l, p) = (latest.clone(), progress.clone());
        let handle = std::thread::Builder::new()
            .name("kdviz-fit".into())
            .spawn(move || {
                let rx = job_rx;
                while let Ok(mut job) = rx.recv() {
                    // Only the newest request matters: skip everything queued behind it.
                    while let Ok(newer) = rx.try_recv() {
                        job = newer;
                    }
                    let (generation, spec) = job;
                    let t0 = Instant::now();
                    let result = run(&spec, generation, &l, &p).map(Arc::new);
                    if l.load(Ordering::Relaxed) != generation {
                        continue; // superseded while running
                    }
                    let outcome = FitOutcome {
                        generation,
                        result,
                        elapsed: t0.elapsed(),
                    };
                    if res_tx.send(outcome).is_err() {
                        return;
                    }
                    wake();
                }
            })
            .ok();
        FitWorker {
            jobs: Some(job_tx),
            results: res_rx,
            latest,
            progress,
            handle,
            next: 0,
        }
    }

    /// Queues a refit; returns its generation number.
    pub fn request(&mut self, spec: FitSpec) -> u64 {
        self.next += 1;
        self.latest.store(self.next, Ordering::Relaxed);
        if let Some(tx) = &self.jobs {
            let _ = tx.send((self.next, spec));
        }
        self.next
    }

    /// The newest finished outcome, if any arrived (older ones are dropped).
    pub fn poll(&self) -> Option<FitOutcome> {
        let mut last = None;
        while let Ok(o) = self.results.try_recv() {
            last = Some(o);
        }
        last.filter(|o| o.generation == self.latest.load(Ordering::Relaxed))
    }

    /// Runs a request on the calling thread (tests and headless use).
    pub fn run_now(spec: &FitSpec) -> Result<Arc<FitResult>, String> {
        run(spec, 0, &AtomicU64::new(0), &Progress::default()).map(Arc::new)
    }
}

impl Drop for FitWorker {
    fn drop(&mut self) {
        self.latest.store(u64::MAX, Ordering::Relaxed); // cancels a running fit
        self.jobs = None; // closes the channel so the thread ends
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

fn run(
    spec: &FitSpec,
    generation: u64,
    latest: &AtomicU64,
    progress: &Progress,
) -> Result<FitResult, String> {
    let prep = spec.prepare()?;
    let per_run = spec.epochs + 1;
    progress
        .total
        .store(per_run * spec.divergences.len(), Ordering::Relaxed);
    progress.done.store(0, Ordering::Relaxed);
    let mut runs = Vec::with_capacity(spec.divergences.len());
    for (i, div) in spec.divergences.iter().enumerate() {
        let mut keep_going = |epoch: usize| {
            if epoch.is_multiple_of(64) {
                progress.done.store(i * per_run + epoch, Ordering::Relaxed);
            }
            latest.load(Ordering::Relaxed) == generation
        };
        let run = prep.run_with(div, &mut keep_going)?;
        if latest.load(Ordering::Relaxed) != generation {
            return Err("superseded".into());
        }
        runs.push(run);
    }
    progress
        .done
        .store(per_run * spec.divergences.len(), Ordering::Relaxed);
    Ok(FitResult {
        teacher: prep.teacher,
        regions: prep.regions,
        runs,
    })
}
