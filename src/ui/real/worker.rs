//! The real-model tab's background thread: loads teachers, owns the GPU device and trains one
//! divergence after another, sending every epoch's metrics back. The UI never waits on it.

use crate::gpu::{CopyBandwidth, GpuContext};
use crate::math::Divergence;
use crate::real::train::{BackendChoice, EpochStats, TrainConfig, TrainResult, train};
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
    },
    File {
        teacher: PathBuf,
        student: Option<PathBuf>,
        tokens: Option<PathBuf>,
    },
}

impl Source {
    fn load(&self) -> Result<RealData, RealError> {
        let data = match self {
            Source::Builtin { positions } => corpus::builtin_with(*positions)?,
            Source::File {
                teacher,
                student,
                tokens,
            } => files::load(teacher, student.as_deref(), tokens.as_deref())?,
        };
        data.check()?;
        Ok(data)
    }
}

enum Job {
    Load(Source),
    Train {
        source: Source,
        divs: Vec<Divergence>,
        cfg: TrainConfig,
    },
    Bandwidth,
}

/// What the worker reports, in order.
pub enum Event {
    Loaded(Arc<RealData>),
    /// The adapter's description, or why there is none (reported once, on first use).
    Adapter(Result<String, String>),
    Bandwidth(Result<CopyBandwidth, String>),
    Epoch {
        run: usize,
        stats: EpochStats,
    },
    Finished {
        run: usize,
        result: Arc<TrainResult>,
    },
    Failed(String),
    /// The job ended (all runs done, failed or stopped).
    Idle {
        cancelled: bool,
    },
}

pub struct RealWorker {
    jobs: Option<Sender<Job>>,
    events: Receiver<Event>,
    cancel: Arc<AtomicBool>,
    handle: Option<JoinHandle<()>>,
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
                    let cancelled = match job {
                        Job::Load(source) => {
                            if let Err(e) = resident.data(&source, &ev_tx) {
                                send(Event::Failed(e));
                            }
                            false
                        }
                        Job::Bandwidth => {
                            let r = match resident.gpu(&ev_tx) {
                                Some(g) => {
                                    g.copy_bandwidth(256 << 20, 5).map_err(|e| e.to_string())
                                }
                                None => Err("no GPU adapter".into()),
                            };
                            send(Event::Bandwidth(r));
                            false
                        }
                        Job::Train { source, divs, cfg } => {
                            train_all(&mut resident, &source, &divs, &cfg, &stop, &ev_tx, &wake)
                        }
                    };
                    if !send(Event::Idle { cancelled }) {
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

    pub fn train(
        &self,
        source: Source,
        divs: Vec<Divergence>,
        cfg: TrainConfig,
    ) -> Result<(), String> {
        self.cancel.store(false, Ordering::Relaxed);
        self.send(Job::Train { source, divs, cfg })
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

/// Trains each divergence in turn; returns true when stopped by the user.
fn train_all(
    resident: &mut Resident,
    source: &Source,
    divs: &[Divergence],
    cfg: &TrainConfig,
    cancel: &AtomicBool,
    out: &Sender<Event>,
    wake: &Arc<dyn Fn() + Send + Sync>,
) -> bool {
    let data = match resident.data(source, out) {
        Ok(d) => d,
        Err(e) => {
            let _ = out.send(Event::Failed(e));
            return false;
        }
    };
    let gpu = match cfg.backend {
        BackendChoice::Cpu => None,
        _ => resident.gpu(out),
    };
    for (run, div) in divs.iter().enumerate() {
        let mut progress = |s: &EpochStats| {
            let _ = out.send(Event::Epoch {
                run,
                stats: s.clone(),
            });
            wake();
        };
        match train(gpu, &data, div, cfg, cancel, &mut progress) {
            Ok(result) => {
                let _ = out.send(Event::Finished {
                    run,
                    result: Arc::new(result),
                });
            }
            Err(RealError::Cancelled) => return true,
            Err(e) => {
                let _ = out.send(Event::Failed(format!("{div}: {e}")));
                return false;
            }
        }
    }
    false
}
