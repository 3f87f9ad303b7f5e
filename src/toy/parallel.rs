//! The runs of a fit on several threads: each divergence's run is independent of the others (same
//! initial student, its own optimiser), so the runs are dealt to the machine's cores and give, bit
//! for bit, what one thread gives.

use super::fit::{Prepared, Run};
use crate::math::practice::Loss;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Below this many class-epochs (runs × epochs × classes, about 1 ms on one core) a fit stays on
/// one thread: starting a thread costs tens of microseconds.
pub const PARALLEL_WORK: usize = 200_000;

/// The most threads a fit uses.
const MAX_THREADS: usize = 8;

/// The threads a fit of `runs` runs and `work` class-epochs uses: one per run, at most one per core
/// (and [`MAX_THREADS`]); one below `parallel_work`.
pub fn threads_for(runs: usize, work: usize, parallel_work: usize) -> usize {
    if work < parallel_work {
        return 1;
    }
    runs.clamp(1, cores().min(MAX_THREADS))
}

/// The cores this process may use (1 when unknown).
pub fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

impl Prepared {
    /// The class-epochs of `runs` runs of this fit (what [`threads_for`] weighs).
    pub fn work(&self, runs: usize) -> usize {
        runs.saturating_mul(self.epochs + 1)
            .saturating_mul(self.teacher.dist.len())
    }

    /// Runs every loss of `divs` on up to `threads` threads (this one included), each thread taking
    /// the next run not started; the runs in the order of `divs`. An error is the first failing
    /// run's, as one thread running them in order would report it.
    pub fn run_all(&self, divs: &[Loss], threads: usize) -> Result<Vec<Run>, String> {
        self.run_all_observed(divs, threads, &|_| {})
    }

    /// [`Prepared::run_all`], telling `observe` (from the threads that fit) when a run starts and,
    /// every [`EPOCHS_PER_EVENT`] epochs and at its end, how many epochs it recorded since.
    pub fn run_all_observed(
        &self,
        divs: &[Loss],
        threads: usize,
        observe: &(dyn Fn(Event) + Sync),
    ) -> Result<Vec<Run>, String> {
        let threads = threads.clamp(1, divs.len().max(1));
        let next = AtomicUsize::new(0);
        // The lowest index that failed: runs after it need not start.
        let failed = AtomicUsize::new(usize::MAX);
        let work = || {
            let mut done = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= divs.len() || i > failed.load(Ordering::Relaxed) {
                    return done;
                }
                observe(Event::Started(i));
                let mut told = 0;
                let run = self.run_with(&divs[i], &mut |e| {
                    if e - told >= EPOCHS_PER_EVENT {
                        observe(Event::Epochs(e - told));
                        told = e;
                    }
                    true
                });
                match &run {
                    Ok(r) => observe(Event::Epochs(r.history.len() - told)),
                    Err(_) => {
                        failed.fetch_min(i, Ordering::Relaxed);
                    }
                }
                done.push((i, run));
            }
        };
        let mut results: Vec<(usize, Result<Run, String>)> = if threads == 1 {
            work()
        } else {
            std::thread::scope(|scope| {
                let helpers: Vec<_> = (1..threads).map(|_| scope.spawn(work)).collect();
                let mut all = work();
                for h in helpers {
                    match h.join() {
                        Ok(done) => all.extend(done),
                        Err(panic) => std::panic::resume_unwind(panic),
                    }
                }
                all
            })
        };
        results.sort_by_key(|(i, _)| *i);
        let mut runs = Vec::with_capacity(divs.len());
        for (_, run) in results {
            runs.push(run?);
        }
        Ok(runs)
    }
}

/// What [`Prepared::run_all_observed`] reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// The run of the `i`-th loss started.
    Started(usize),
    /// A run recorded this many more epochs.
    Epochs(usize),
}

/// How often a run reports its epochs (a progress bar needs no more).
pub const EPOCHS_PER_EVENT: usize = 64;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::toy::{FitResult, FitSpec, preset};

    fn app_spec(name: &str, epochs: usize) -> FitSpec {
        let mut s = preset::load(name).unwrap().to_spec().unwrap();
        s.snapshots.every = true;
        s.epochs = s.epochs.min(epochs);
        s.snapshots.at.retain(|&e| e <= s.epochs);
        s
    }

    fn equal(a: &FitResult, b: &[Run]) {
        assert_eq!(a.runs.len(), b.len());
        for (x, y) in a.runs.iter().zip(b) {
            assert_eq!(x.divergence, y.divergence);
            // Bit for bit: the records' f64s compared by their bits (NaN included).
            let bits = |r: &Run| -> Vec<u64> {
                r.history
                    .iter()
                    .flat_map(|e| {
                        [e.objective, e.kl_pq, e.kl_qp, e.tvd, e.head_gap, e.tail_gap]
                            .into_iter()
                            .chain([e.far_tail, e.mu.unwrap_or(0.0), e.sigma.unwrap_or(0.0)])
                            .chain([e.t.unwrap_or(0.0)])
                    })
                    .map(f64::to_bits)
                    .collect()
            };
            assert_eq!(bits(x), bits(y), "{}", x.divergence);
            assert_eq!(x.history, y.history, "{}", x.divergence);
            assert_eq!(x.snapshots.len(), y.snapshots.len());
            for (s, t) in x.snapshots.iter().zip(&y.snapshots) {
                assert_eq!(s.epoch, t.epoch);
                assert_eq!(s.lse.map(f64::to_bits), t.lse.map(f64::to_bits));
                let q =
                    |s: &crate::toy::Snapshot| s.q.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
                assert_eq!(q(s), q(t), "{} epoch {}", x.divergence, s.epoch);
            }
        }
    }

    /// The runs dealt to threads equal, bit for bit, the runs one after another: free logits, a
    /// Gaussian, a 2-D Gaussian, TAID's schedule and a sampled family, on 2, 3 and 8 threads.
    #[test]
    fn parallel_runs_equal_the_serial_runs_bit_for_bit() {
        for name in [
            "zipf-1000",
            "minillm-gmm",
            "three-modes-2d",
            "taid-schedule",
            "longtail-all-divergences",
        ] {
            let spec = app_spec(name, 120);
            let prep = spec.prepare().unwrap();
            let serial = prep.run_all(&spec.divergences, 1).unwrap();
            for threads in [2, 3, 8] {
                let parallel = spec.prepare().unwrap();
                let runs = parallel.run_all(&spec.divergences, threads).unwrap();
                let result = FitResult {
                    teacher: parallel.teacher.clone(),
                    regions: parallel.regions.clone(),
                    runs,
                };
                equal(&result, &serial);
            }
            // FitSpec::run (threads as the machine allows) too.
            equal(&spec.run().unwrap(), &serial);
        }
    }

    /// A run that fails on several threads reports what one thread reports: the first failing run's
    /// error, whatever finished first.
    #[test]
    fn the_first_failing_run_is_reported() {
        let mut spec = app_spec("zipf-1000", 20);
        spec.teacher = crate::toy::TeacherSpec::Probs {
            probs: vec![0.5, 0.5, 0.0],
        };
        spec.student = crate::toy::StudentSpec::Logits {
            init: crate::toy::Init::Zeros,
            seed: 0,
            logits: Vec::new(),
        };
        // fkl is finite here; rkl and the families after it are not.
        spec.divergences = ["fkl", "rkl", "fkl", "srkl:alpha=0.1", "fkl"]
            .iter()
            .map(|s| s.parse().unwrap())
            .collect();
        let prep = spec.prepare().unwrap();
        let serial = prep.run_all(&spec.divergences, 1).unwrap_err();
        assert!(serial.starts_with("rkl is inf at epoch 0"), "{serial}");
        for threads in [2, 5] {
            assert_eq!(
                prep.run_all(&spec.divergences, threads).unwrap_err(),
                serial
            );
        }
    }

    /// Every run reports its start once and all its epochs, on one thread and on several.
    #[test]
    fn observed_runs_report_every_epoch() {
        let spec = app_spec("zipf-1000", 150);
        let prep = spec.prepare().unwrap();
        for threads in [1, 2, 4] {
            let events = std::sync::Mutex::new(Vec::new());
            prep.run_all_observed(&spec.divergences, threads, &|e| {
                events.lock().unwrap().push(e)
            })
            .unwrap();
            let events = events.into_inner().unwrap();
            let mut started: Vec<usize> = events
                .iter()
                .filter_map(|e| match e {
                    Event::Started(i) => Some(*i),
                    _ => None,
                })
                .collect();
            started.sort_unstable();
            assert_eq!(started, (0..spec.divergences.len()).collect::<Vec<_>>());
            let epochs: usize = events
                .iter()
                .map(|e| match e {
                    Event::Epochs(n) => *n,
                    _ => 0,
                })
                .sum();
            assert_eq!(epochs, spec.divergences.len() * 151, "{threads}");
        }
    }

    #[test]
    fn small_fits_stay_on_one_thread() {
        assert_eq!(threads_for(6, 1_000, PARALLEL_WORK), 1);
        assert_eq!(threads_for(1, usize::MAX, PARALLEL_WORK), 1);
        assert_eq!(threads_for(3, usize::MAX, 0), cores().min(3));
        assert_eq!(threads_for(100, usize::MAX, 0), cores().min(MAX_THREADS));
    }
}
