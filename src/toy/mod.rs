//! The toy world: teachers, students, optimisers, the fit loop, metrics, configs and presets, and
//! the analysis of a fit (the numbers the views draw).

pub mod analysis;
pub mod budget;
pub mod config;
pub mod fit;
pub mod gaussian2d;
pub mod lesson;
pub mod metrics;
pub mod optim;
pub mod parallel;
pub mod plane;
pub mod preset;
pub mod student;
pub mod teacher;

pub use config::{FitConfig, ViewHints};
pub use fit::{FitResult, FitSpec, Prepared, Run, Snapshot, SnapshotPlan, SnapshotQ, Stepper};
pub use metrics::{EpochRecord, HistoryColumns, MetricsSpec, Regions};
pub use optim::{Optimizer, OptimizerSpec};
pub use plane::{Component2d, Grid2d};
pub use student::{Covariance, Init, Student, StudentSpec};
pub use teacher::{Component, Grid, Plane, TailShape, Teacher, TeacherSpec};
