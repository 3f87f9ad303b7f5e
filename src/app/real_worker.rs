//! The real-model tab's background thread: loads teachers, owns the GPU device and trains one
//! loss after another, sending every epoch's metrics back. The UI never waits on it.

use crate::gpu::{CopyBandwidth, GpuContext};
use crate::math::practice::Loss;
use crate::real::train::{
    BackendChoice, EpochStats, TrainConfig, TrainResult, check_teacher, check_vocabularies, train,
};
use crate::real::{RealData, RealError, corpus, files};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::thread::JoinHandle;

/// Where the teacher comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    Builtin {
        positions: usize,
        /// A student over its own vocabulary (uld across tokenizers), else the teacher's.
        student_vocab: Option<usize>,
        /// The teacher as its top k per position, derived from the full one (`--topk`).
        teacher_topk: Option<usize>,
    },
    File {
        teacher: PathBuf,
        student: Option<PathBuf>,
        tokens: Option<PathBuf>,
        student_vocab: Option<usize>,
        teacher_topk: Option<usize>,
    },
}

impl Source {
    fn load(&self) -> Result<RealData, RealError> {
        let (data, student_vocab, topk) = match self {
            Source::Builtin {
                positions,
                student_vocab,
                teacher_topk,
            } => (
                corpus::builtin_with(*positions)?,
                student_vocab,
                teacher_topk,
            ),
            Source::File {
                teacher,
                student,
                tokens,
                student_vocab,
                teacher_topk,
            } => (
                files::load(teacher, student.as_deref(), tokens.as_deref())?,
                student_vocab,
                teacher_topk,
            ),
        };
        let data = match student_vocab {
            Some(sv) => data.with_student_vocab(*sv)?,
            None => data,
        };
        let data = match topk {
            Some(k) => data.with_topk(*k)?,
            None => data,
        };
        data.check()?;
        Ok(data)
    }
}

enum Job {
    Load(Source),
    Train {
        id: u64,
        source: Source,
        divs: Vec<Loss>,
        cfg: TrainConfig,
    },
    Bandwidth,
}

/// What the worker reports, in order. Training events carry their job's id: after a Stop and a new
/// Run, the old job's last events may still arrive and must not land in the new run.
pub enum Event {
    Loaded(Arc<RealData>),
    /// The adapter's description, or why there is none (reported once, on first use).
    Adapter(Result<String, String>),
    Bandwidth(Result<CopyBandwidth, String>),
    Epoch {
        job: u64,
        run: usize,
        stats: EpochStats,
    },
    Finished {
        job: u64,
        run: usize,
        result: Arc<TrainResult>,
    },
    /// A load or a run failed; `job` is the training job's id, or `None` for a load.
    Failed {
        job: Option<u64>,
        message: String,
    },
    /// A training job ended (all runs done, failed or stopped).
    Idle {
        job: u64,
        cancelled: bool,
    },
}

pub struct RealWorker {
    jobs: Option<Sender<Job>>,
    events: Receiver<Event>,
    cancel: Arc<AtomicBool>,
    handle: Option<JoinHandle<()>>,
    next_job: u64,
}

/// State that lives on the worker thread between jobs.
struct Resident {
    gpu: Option<Result<GpuContext, String>>,
    data: Option<(Source, Arc<RealData>)>,
}

impl Resident {
    fn gpu(&mut self, out: &Sender<Event>) -> Option<&GpuContext> {
        if self.gpu.is_none() {
            let made = GpuContext::new().map_err(|e| e.to_string());
            let _ = out.send(Event::Adapter(match &made {
                Ok(c) => {
                    let i = c.info();
                    Ok(format!("{} ({}, {})", i.name, i.backend, i.device_type))
                }
                Err(e) => Err(e.clone()),
            }));
            self.gpu = Some(made);
        }
        self.gpu.as_ref().and_then(|g| g.as_ref().ok())
    }

    fn data(&mut self, source: &Source, out: &Sender<Event>) -> Result<Arc<RealData>, String> {
        if let Some((s, d)) = &self.data
            && s == source
        {
            return Ok(Arc::clone(d));
        }
        let d = Arc::new(source.load().map_err(|e| e.to_string())?);
        self.data = Some((source.clone(), Arc::clone(&d)));
        let _ = out.send(Event::Loaded(Arc::clone(&d)));
        Ok(d)
    }
}

impl RealWorker {
    /// `wake` is called after every event (the app passes `ctx.request_repaint`).
    pub fn spawn(wake: Arc<dyn Fn() + Send + Sync>) -> RealWorker {
        let (job_tx, job_rx) = channel::<Job>();
        let (ev_tx, ev_rx) = channel::<Event>();
        let cancel = Arc::new(AtomicBool::new(false));
        let stop = Arc::clone(&cancel);
        let handle = std::thread::Builder::new()
            .name("kdviz-real".into())
            .spawn(move || {
                let mut resident = Resident {
                    gpu: None,
                    data: None,
                };
                let send = |e: Event| {
                    let ok = ev_tx.send(e).is_ok();
                    wake();
                    ok
                };
                while let Ok(job) = job_rx.recv() {
                    let alive = match job {
                        Job::Load(source) => {
                            // A teacher already resident is announced again: the tab's status may
                            // still hold the complaint about a file tried in between.
                            let resident_already =
                                resident.data.as_ref().is_some_and(|(s, _)| *s == source);
                            match resident.data(&source, &ev_tx) {
                                Ok(d) if resident_already => send(Event::Loaded(d)),
                                Ok(_) => true,
                                Err(message) => send(Event::Failed { job: None, message }),
                            }
                        }
                        Job::Bandwidth => {
                            let r = match resident.gpu(&ev_tx) {
                                Some(g) => {
                                    g.copy_bandwidth(256 << 20, 5).map_err(|e| e.to_string())
                                }
                                None => Err("no GPU adapter".into()),
                            };
                            send(Event::Bandwidth(r))
                        }
                        Job::Train {
                            id,
                            source,
                            divs,
                            cfg,
                        } => {
                            let run = Run {
                                job: id,
                                cancel: &stop,
                                out: &ev_tx,
                                wake: &wake,
                            };
                            let cancelled = run.all(&mut resident, &source, &divs, &cfg);
                            send(Event::Idle { job: id, cancelled })
                        }
                    };
                    if !alive {
                        return;
                    }
                }
            })
            .ok();
        RealWorker {
            jobs: Some(job_tx),
            events: ev_rx,
            cancel,
            handle,
            next_job: 0,
        }
    }

    fn send(&self, job: Job) -> Result<(), String> {
        self.jobs
            .as_ref()
            .and_then(|j| j.send(job).ok())
            .ok_or_else(|| "the background thread has stopped; restart kdviz".to_string())
    }

    pub fn load(&self, source: Source) -> Result<(), String> {
        self.send(Job::Load(source))
    }

    /// Queues a training job; returns its id (the one its events carry).
    pub fn train(
        &mut self,
        source: Source,
        divs: Vec<Loss>,
        cfg: TrainConfig,
    ) -> Result<u64, String> {
        self.next_job += 1;
        let id = self.next_job;
        self.cancel.store(false, Ordering::Relaxed);
        self.send(Job::Train {
            id,
            source,
            divs,
            cfg,
        })?;
        Ok(id)
    }

    pub fn measure_bandwidth(&self) -> Result<(), String> {
        self.send(Job::Bandwidth)
    }

    /// Asks the running job to stop after the current epoch.
    pub fn stop(&self) {
        self.cancel.store(true, Ordering::Relaxed);
    }

    /// Every event that arrived since the last call.
    pub fn drain(&self) -> Vec<Event> {
        self.events.try_iter().collect()
    }
}

impl Drop for RealWorker {
    fn drop(&mut self) {
        self.cancel.store(true, Ordering::Relaxed);
        self.jobs = None; // ends the thread's loop
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

/// One training job's context on the worker thread.
struct Run<'a> {
    job: u64,
    cancel: &'a AtomicBool,
    out: &'a Sender<Event>,
    wake: &'a Arc<dyn Fn() + Send + Sync>,
}

impl Run<'_> {
    fn failed(&self, message: String) {
        let _ = self.out.send(Event::Failed {
            job: Some(self.job),
            message,
        });
    }

    /// Trains each loss in turn; returns true when stopped by the user.
    fn all(
        &self,
        resident: &mut Resident,
        source: &Source,
        divs: &[Loss],
        cfg: &TrainConfig,
    ) -> bool {
        let data = match resident.data(source, self.out) {
            Ok(d) => d,
            Err(message) => {
                self.failed(message);
                return false;
            }
        };
        // Every loss must fit the student's vocabulary (uld alone crosses vocabularies) and the
        // teacher (a top-k teacher serves only the top-k supports) before any trains: one message
        // up front, not after the first runs.
        let misfit = |d: &Loss| {
            check_vocabularies(&data, d)
                .and_then(|()| check_teacher(&data, d))
                .err()
        };
        if let Some(e) = divs.iter().find_map(misfit) {
            self.failed(e.to_string());
            return false;
        }
        let gpu = match cfg.backend {
            BackendChoice::Cpu => None,
            _ => resident.gpu(self.out),
        };
        let job = self.job;
        for (run, div) in divs.iter().enumerate() {
            let mut progress = |s: &EpochStats| {
                let _ = self.out.send(Event::Epoch {
                    job,
                    run,
                    stats: *s,
                });
                (self.wake)();
            };
            match train(gpu, &data, div, cfg, self.cancel, &mut progress) {
                Ok(result) => {
                    let _ = self.out.send(Event::Finished {
                        job,
                        run,
                        result: Arc::new(result),
                    });
                }
                Err(RealError::Cancelled) => return true,
                Err(e) => {
                    self.failed(format!("{div}: {e}"));
                    return false;
                }
            }
        }
        false
    }
}
