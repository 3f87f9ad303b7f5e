//! Refits run off the UI thread: the window never waits on a fit, a newer request cancels an older
//! one, and a fit that takes a while shows the epochs it has so far.
//!
//! The runs of a refit are dealt to one thread per core ([`parallel::threads_for`]); each thread
//! advances its runs together, a few epochs each in turn. The first partial result (every
//! divergence up to the epoch the slowest has reached) goes out [`FIRST_PARTIAL`] after the fit
//! started, then one every [`PARTIAL_EVERY`], then the whole fit.

use crate::toy::{FitResult, FitSpec, Prepared, Run, Stepper, parallel};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// When a fit still running shows its first epochs (leaves time for a frame, on a loaded machine
/// too, within the 50 ms from a slider move to the screen).
pub const FIRST_PARTIAL: Duration = Duration::from_millis(15);
/// How often a running fit shows its progress after that.
pub const PARTIAL_EVERY: Duration = Duration::from_millis(60);
/// Epochs each run advances before the next run's turn (and between checks for a newer request).
const ROUND: usize = 8;
/// A partial result copies the records so far (the kept q is shared): once that copy would pass this
/// many bytes, a fit shows its progress bar only until it is done. The first partial result (which
/// also lets the previous fit go) comes early enough to be small.
const MAX_PARTIAL_BYTES: usize = 4 << 20;

/// What the worker sends back for one request: a partial result while it fits, then the whole one.
pub struct FitOutcome {
    pub generation: u64,
    pub result: Result<Arc<FitResult>, String>,
    /// False for a partial result (every run up to the same epoch; the rest is being fitted).
    pub complete: bool,
    /// Time since the fit started.
    pub elapsed: Duration,
}

/// Shared progress of the running fit, read by the UI for its progress bar.
#[derive(Default)]
pub struct Progress {
    /// Epochs done over all divergences of the running request.
    pub done: AtomicUsize,
    pub total: AtomicUsize,
}

/// What the worker and the UI share about requests.
#[derive(Default)]
struct Requests {
    /// The newest request's generation.
    latest: AtomicU64,
    /// The newest request came from a drag: the running fit may first show its partial result
    /// (otherwise a slider dragged at 60 frames per second would cancel every fit before it shows).
    patient: AtomicBool,
}

impl Requests {
    /// True when the fit of `generation` should stop: a newer request arrived, and the running fit
    /// either showed something already or the newer request is not patient.
    fn superseded(&self, generation: u64, shown: bool) -> bool {
        self.latest.load(Ordering::Relaxed) != generation
            && (shown || !self.patient.load(Ordering::Relaxed))
    }
}

pub struct FitWorker {
    jobs: Option<Sender<(u64, FitSpec)>>,
    results: Receiver<FitOutcome>,
    requests: Arc<Requests>,
    pub progress: Arc<Progress>,
    handle: Option<JoinHandle<()>>,
    next: u64,
}

impl FitWorker {
    /// `wake` is called when a result is ready (the app passes `ctx.request_repaint`).
    pub fn spawn(wake: Arc<dyn Fn() + Send + Sync>) -> FitWorker {
        let (job_tx, job_rx) = channel::<(u64, FitSpec)>();
        let (res_tx, res_rx) = channel();
        let requests = Arc::new(Requests::default());
        let progress = Arc::new(Progress::default());
        let (r, p) = (requests.clone(), progress.clone());
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
                    let mut send = |outcome: FitOutcome| {
                        let sent = res_tx.send(outcome).is_ok();
                        wake();
                        sent
                    };
                    if !run(&spec, generation, &r, &p, APP, &mut send) {
                        return; // the app is gone
                    }
                }
            })
            .ok();
        FitWorker {
            jobs: Some(job_tx),
            results: res_rx,
            requests,
            progress,
            handle,
            next: 0,
        }
    }

    /// Queues a refit and returns its generation number. `dragging`: the user is still moving a
    /// control, so the fit now running shows its first epochs before it gives way.
    pub fn request(&mut self, spec: FitSpec, dragging: bool) -> u64 {
        self.next += 1;
        self.requests.patient.store(dragging, Ordering::Relaxed);
        self.requests.latest.store(self.next, Ordering::Relaxed);
        if let Some(tx) = &self.jobs {
            let _ = tx.send((self.next, spec));
        }
        self.next
    }

    /// The newest request's generation.
    pub fn latest(&self) -> u64 {
        self.requests.latest.load(Ordering::Relaxed)
    }

    /// The newest outcome that arrived since the last call, if any (older ones are dropped). It may
    /// belong to an older request (a partial result shown while a slider moves on).
    pub fn poll(&self) -> Option<FitOutcome> {
        let mut last = None;
        while let Ok(o) = self.results.try_recv() {
            last = Some(o);
        }
        last
    }

    /// Runs a request on the calling thread (tests and headless use).
    pub fn run_now(spec: &FitSpec) -> Result<Arc<FitResult>, String> {
        let mut last = Err("superseded".to_string());
        run(
            spec,
            0,
            &Requests::default(),
            &Progress::default(),
            APP,
            &mut |o| {
                if o.complete || o.result.is_err() {
                    last = o.result;
                }
                true
            },
        );
        last
    }
}

impl Drop for FitWorker {
    fn drop(&mut self) {
        // Cancels a running fit.
        self.requests.patient.store(false, Ordering::Relaxed);
        self.requests.latest.store(u64::MAX, Ordering::Relaxed);
        self.jobs = None; // closes the channel so the thread ends
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

/// When a refit shows what it has, and when it uses more than one thread.
#[derive(Debug, Clone, Copy)]
struct Pacing {
    first: Duration,
    every: Duration,
    /// Below this many class-epochs (runs × epochs × classes) a refit stays on the worker's thread.
    parallel_work: usize,
}

/// The app's pacing: partial results at [`FIRST_PARTIAL`] and every [`PARTIAL_EVERY`]; threads as
/// for any fit ([`parallel::PARALLEL_WORK`]).
const APP: Pacing = Pacing {
    first: FIRST_PARTIAL,
    every: PARTIAL_EVERY,
    parallel_work: parallel::PARALLEL_WORK,
};

/// The runs one thread advances, a few epochs each in turn: (index in the spec, its stepper).
struct Group<'a> {
    steppers: Vec<(usize, Stepper<'a>)>,
    error: Option<String>,
}

/// What the threads of one refit share.
struct Shared<'r> {
    generation: u64,
    requests: &'r Requests,
    progress: &'r Progress,
    /// Set when the fit fails, is superseded or nobody listens.
    stop: AtomicBool,
    /// Set once a partial result went out.
    shown: AtomicBool,
    /// Set while a partial result is being copied: the threads leave their runs alone (a thread
    /// that let go of its lock between rounds would otherwise take it back first, every time).
    copying: AtomicBool,
}

/// Advances `group` until its runs are done, the fit fails or is superseded (then sets `stop`);
/// `between` runs after every round.
fn advance(group: &Mutex<Group<'_>>, shared: &Shared, between: &mut dyn FnMut()) {
    let Shared {
        stop,
        shown,
        copying,
        generation,
        requests,
        progress,
    } = shared;
    loop {
        while copying.load(Ordering::Acquire) && !stop.load(Ordering::Relaxed) {
            std::thread::yield_now();
        }
        if stop.load(Ordering::Relaxed) {
            return;
        }
        let Ok(mut g) = group.lock() else {
            stop.store(true, Ordering::Relaxed);
            return;
        };
        let mut stepped = 0;
        let mut failed = None;
        for (_, s) in &mut g.steppers {
            for _ in 0..ROUND {
                if s.is_done() {
                    break;
                }
                if let Err(e) = s.step() {
                    failed = Some(e);
                    break;
                }
                stepped += 1;
            }
            if failed.is_some() {
                break;
            }
        }
        let done = g.steppers.iter().all(|(_, s)| s.is_done());
        if let Some(e) = failed {
            g.error = Some(e);
            stop.store(true, Ordering::Relaxed);
            return;
        }
        drop(g);
        progress.done.fetch_add(stepped, Ordering::Relaxed);
        if done {
            return;
        }
        if requests.superseded(*generation, shown.load(Ordering::Relaxed)) {
            stop.store(true, Ordering::Relaxed);
            return;
        }
        between();
    }
}

/// Fits `spec`, sending partial results on the way and the whole fit (or the error) at the end;
/// nothing once superseded. False when `send` says nobody listens any more.
///
/// The runs are dealt to [`threads_for`] threads (a small fit stays on this thread); this thread
/// sends the partial results, each holding every run up to the epoch the slowest has reached.
fn run(
    spec: &FitSpec,
    generation: u64,
    requests: &Requests,
    progress: &Progress,
    pacing: Pacing,
    send: &mut dyn FnMut(FitOutcome) -> bool,
) -> bool {
    let t0 = Instant::now();
    let outcome = |result: Result<FitResult, String>, complete: bool| FitOutcome {
        generation,
        result: result.map(Arc::new),
        complete,
        elapsed: t0.elapsed(),
    };
    let prep = match spec.prepare() {
        Ok(p) => p,
        Err(e) => return requests.superseded(generation, false) || send(outcome(Err(e), true)),
    };
    let n_runs = spec.divergences.len();
    progress
        .total
        .store((spec.epochs + 1) * n_runs, Ordering::Relaxed);
    progress.done.store(0, Ordering::Relaxed);
    let threads = parallel::threads_for(n_runs, prep.work(n_runs), pacing.parallel_work);
    let mut dealt: Vec<Vec<(usize, Stepper)>> = (0..threads).map(|_| Vec::new()).collect();
    for (i, d) in spec.divergences.iter().enumerate() {
        dealt[i % threads].push((i, prep.stepper(d)));
    }
    let groups: Vec<Mutex<Group>> = dealt
        .into_iter()
        .map(|steppers| {
            Mutex::new(Group {
                steppers,
                error: None,
            })
        })
        .collect();
    let shared = Shared {
        generation,
        requests,
        progress,
        stop: AtomicBool::new(false),
        shown: AtomicBool::new(false),
        copying: AtomicBool::new(false),
    };
    let finished = AtomicUsize::new(0);
    let mut listening = true;
    let mut next_partial = t0 + pacing.first;
    // Sends a partial result when one is due.
    let mut tick = || {
        if shared.stop.load(Ordering::Relaxed) || Instant::now() < next_partial {
            return;
        }
        // A newer request may have arrived since the workers' last check: send nothing more.
        if requests.superseded(generation, shared.shown.load(Ordering::Relaxed)) {
            shared.stop.store(true, Ordering::Relaxed);
            return;
        }
        shared.copying.store(true, Ordering::Release);
        let copy = partial(&prep, &groups, n_runs);
        shared.copying.store(false, Ordering::Release);
        if let Some(copy) = copy {
            listening = send(outcome(Ok(copy), false));
            shared.shown.store(true, Ordering::Relaxed);
            if !listening {
                shared.stop.store(true, Ordering::Relaxed);
            }
        }
        next_partial = Instant::now() + pacing.every;
    };
    if let [group] = &groups[..] {
        advance(group, &shared, &mut tick);
    } else {
        let this = std::thread::current();
        std::thread::scope(|scope| {
            for group in &groups {
                let (shared, finished, this) = (&shared, &finished, &this);
                scope.spawn(move || {
                    advance(group, shared, &mut || {});
                    finished.fetch_add(1, Ordering::Release);
                    this.unpark();
                });
            }
            while finished.load(Ordering::Acquire) < groups.len() {
                // Woken by a thread that finished, or when a partial result is due.
                std::thread::park_timeout(Duration::from_millis(2));
                if finished.load(Ordering::Acquire) < groups.len() {
                    tick();
                }
            }
        });
    }
    if !listening {
        return false;
    }
    let mut runs: Vec<(usize, Stepper)> = Vec::with_capacity(n_runs);
    let mut error = None;
    for group in groups {
        let g = match group.into_inner() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        };
        error = error.or(g.error);
        runs.extend(g.steppers);
    }
    let shown = shared.shown.load(Ordering::Relaxed);
    if requests.superseded(generation, shown) {
        return true;
    }
    if let Some(e) = error {
        return send(outcome(Err(e), true));
    }
    if runs.iter().any(|(_, s)| !s.is_done()) {
        return true; // stopped for a newer request
    }
    runs.sort_by_key(|(i, _)| *i);
    let runs = runs.into_iter().map(|(_, s)| s.finish()).collect();
    send(outcome(
        Ok(FitResult {
            teacher: prep.teacher.clone(),
            regions: prep.regions.clone(),
            runs,
        }),
        true,
    ))
}

/// Every run up to the epoch all have reached; `None` before each has recorded one, and once the
/// records to copy pass [`MAX_PARTIAL_BYTES`].
fn partial(prep: &Prepared, groups: &[Mutex<Group>], n_runs: usize) -> Option<FitResult> {
    let locked: Vec<_> = groups
        .iter()
        .map(|g| g.lock().ok())
        .collect::<Option<_>>()?;
    let upto = locked
        .iter()
        .flat_map(|g| g.steppers.iter().map(|(_, s)| s.recorded()))
        .min()?;
    let copied = upto * n_runs * size_of::<crate::toy::EpochRecord>();
    if upto == 0 || copied > MAX_PARTIAL_BYTES {
        return None;
    }
    let mut runs: Vec<(usize, Run)> = locked
        .iter()
        .flat_map(|g| g.steppers.iter().map(|(i, s)| (*i, s.partial(upto))))
        .collect();
    drop(locked);
    runs.sort_by_key(|(i, _)| *i);
    debug_assert_eq!(runs.len(), n_runs);
    Some(FitResult {
        teacher: prep.teacher.clone(),
        regions: prep.regions.clone(),
        runs: runs.into_iter().map(|(_, r)| r).collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::toy::preset;

    fn spec(name: &str) -> FitSpec {
        let mut s = preset::load(name).unwrap().to_spec().unwrap();
        s.snapshots.every = true;
        s.snapshots.at.clear();
        s
    }

    /// The worker's interleaved runs give the same fit as the CLI's one-run-after-another.
    #[test]
    fn interleaved_runs_equal_the_sequential_fit() {
        for name in ["taid-schedule", "akl-fig2-bimodal", "amid-alpha-mixtures"] {
            let mut s = spec(name);
            s.epochs = s.epochs.min(300);
            let worker = FitWorker::run_now(&s).unwrap();
            let cli = s.run().unwrap();
            assert_eq!(worker.runs, cli.runs, "{name}");
            assert_eq!(worker.runs[0].history.len(), s.epochs + 1);
        }
    }

    /// A fit that runs past the first deadline sends partial results, each with every run up to the
    /// same epoch and its records equal to the whole fit's; a newer request then stops it. On the
    /// worker's own thread (a small fit) and on several.
    #[test]
    fn a_long_fit_sends_partial_results_then_stops_for_a_newer_one() {
        for parallel_work in [usize::MAX, 0] {
            let pacing = Pacing {
                first: Duration::ZERO,
                every: Duration::ZERO,
                parallel_work,
            };
            let mut s = spec("taid-schedule");
            s.epochs = 20_000; // far more than two partial results' worth
            let requests = Requests::default();
            let mut partials = Vec::new();
            run(&s, 0, &requests, &Progress::default(), pacing, &mut |o| {
                assert_eq!(o.generation, 0);
                assert!(!o.complete, "the fit should have been superseded");
                partials.push(o.result.unwrap());
                if partials.len() == 2 {
                    // A newer request: the running fit stops at its next check.
                    requests.latest.store(1, Ordering::Relaxed);
                }
                true
            });
            assert_eq!(partials.len(), 2, "parallel_work={parallel_work}");
            let whole = {
                let mut short = s.clone();
                short.epochs = partials[1].runs[0].history.len() - 1;
                short.run().unwrap()
            };
            for p in &partials {
                let n = p.runs[0].history.len();
                assert!(n > 0 && n < s.epochs);
                assert_eq!(p.runs.len(), 4);
                for (run, full) in p.runs.iter().zip(&whole.runs) {
                    assert_eq!(run.divergence, full.divergence);
                    assert_eq!(run.history.len(), n, "{}", run.divergence);
                    // TAID's schedule depends on the number of epochs: compare its fixed-t runs.
                    if !matches!(
                        run.divergence.family,
                        crate::math::Divergence::Taid {
                            schedule: Some(_),
                            ..
                        }
                    ) {
                        assert_eq!(run.history[..], full.history[..n]);
                        // The long fit keeps a thinned store; each kept q equals the short fit's.
                        assert!(!run.snapshots.is_empty());
                        for snap in &run.snapshots {
                            let i = full
                                .snapshots
                                .binary_search_by_key(&snap.epoch, |f| f.epoch)
                                .unwrap();
                            assert_eq!(snap, &full.snapshots[i]);
                        }
                    }
                }
            }
        }
    }

    /// The app's refit keeps q within the store: a fit of 2000 classes × 20,000 epochs × 3 divergences
    /// (1.4 GiB of q at every epoch) keeps 32 MiB of it, the config's snapshot epochs included.
    #[test]
    fn a_big_refit_keeps_a_bounded_store() {
        let mut s = spec("zipf-1000");
        s.teacher = crate::toy::TeacherSpec::LongTail {
            classes: 2000,
            shape: crate::toy::TailShape::Zipf,
            width: 1.0,
            exponent: 1.0,
            shuffle_seed: None,
            noise: 0.0,
            noise_seed: 0,
        };
        s.epochs = 20_000;
        s.divergences.truncate(3);
        s.snapshots.at = vec![12_345];
        let result = FitWorker::run_now(&s).unwrap();
        let kept: usize = result.runs.iter().map(|r| r.snapshots.len()).sum();
        let bytes = kept as u64 * (2000 * 8 + crate::toy::budget::SNAPSHOT_OVERHEAD);
        assert!(bytes <= crate::toy::budget::STORE_BYTES, "{bytes}");
        assert!(kept > 3 * 300, "{kept}");
        for run in &result.runs {
            assert!(run.snapshots.iter().any(|q| q.epoch == 12_345));
            assert_eq!(run.history.len(), 20_001);
        }
    }

    /// A fit whose records would cost more than [`MAX_PARTIAL_BYTES`] to copy stops sending partial
    /// results there (the app holds at most one such copy), and still sends the whole fit.
    #[test]
    fn partial_results_stop_at_the_copy_bound() {
        let pacing = Pacing {
            first: Duration::ZERO,
            every: Duration::ZERO,
            parallel_work: usize::MAX,
        };
        let mut s = spec("akl-fig3-longtail");
        s.epochs = 100_000;
        s.divergences.truncate(2);
        let bound = MAX_PARTIAL_BYTES / size_of::<crate::toy::EpochRecord>();
        let (mut partials, mut complete) = (0, None);
        run(
            &s,
            0,
            &Requests::default(),
            &Progress::default(),
            pacing,
            &mut |o| {
                let r = o.result.unwrap();
                if o.complete {
                    complete = Some(r.runs[0].history.len());
                } else {
                    partials += 1;
                    assert!(r.runs[0].history.len() * 2 <= bound);
                }
                true
            },
        );
        assert!(partials > 0);
        assert_eq!(complete, Some(100_001));
    }

    /// A newer request stops the running fit at once, unless it is patient (a drag) and the running fit
    /// has shown nothing yet.
    #[test]
    fn a_patient_request_lets_the_running_fit_show_first() {
        let r = Requests::default();
        assert!(!r.superseded(0, false));
        r.latest.store(1, Ordering::Relaxed);
        assert!(r.superseded(0, false));
        r.patient.store(true, Ordering::Relaxed);
        assert!(!r.superseded(0, false));
        assert!(r.superseded(0, true));
        assert!(!r.superseded(1, true));
    }

    /// A bad spec and a fit that fails part way come back as errors.
    #[test]
    fn errors_come_back_complete() {
        let mut s = spec("minillm-gmm");
        s.epochs = 100_001_000;
        assert!(FitWorker::run_now(&s).unwrap_err().contains("epochs="));
        let mut s = spec("akl-fig3-longtail");
        s.teacher = crate::toy::TeacherSpec::Probs {
            probs: vec![1.0, 0.0, 1.0],
        };
        s.student = crate::toy::StudentSpec::Logits {
            init: crate::toy::Init::Zeros,
            seed: 0,
            logits: Vec::new(),
        };
        s.divergences = vec![
            crate::math::Divergence::Fkl.into(),
            crate::math::Divergence::Rkl.into(),
        ];
        let e = FitWorker::run_now(&s).unwrap_err();
        assert!(e.starts_with("rkl is inf at epoch 0"), "{e}");
    }
}
