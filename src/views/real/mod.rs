//! The real-model tab's views: metric curves per epoch and the position inspector, over the runs as
//! they stream in. The app's tab and `kdviz real --figure` draw them alike.

pub mod inspector;
pub mod plots;

use crate::math::Divergence;
use crate::math::practice::Loss;
use crate::real::train::{EpochStats, TrainResult};
use std::sync::Arc;

/// One loss's run as it streams in.
pub struct RunState {
    /// The family: the run's colour and legend.
    pub div: Divergence,
    /// The whole loss (family and practice options): the run's printed name.
    pub loss: Loss,
    pub stats: Vec<EpochStats>,
    pub result: Option<Arc<TrainResult>>,
}

impl RunState {
    /// A run that is over (the command line's figures).
    pub fn finished(result: TrainResult) -> RunState {
        RunState {
            div: result.div.family,
            loss: result.div,
            stats: result.stats.clone(),
            result: Some(Arc::new(result)),
        }
    }
}

/// What the inspector shows.
#[derive(Debug, Clone, PartialEq)]
pub struct InspectorState {
    pub row: usize,
    pub log_y: bool,
    /// Classes drawn, by teacher rank (the whole vocabulary is too dense to read).
    pub top: usize,
    pub labels: usize,
}

impl Default for InspectorState {
    fn default() -> Self {
        InspectorState {
            row: 0,
            log_y: true,
            top: 200,
            labels: 8,
        }
    }
}
