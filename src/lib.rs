//! kdviz: fit a student to a teacher under any knowledge-distillation divergence and watch it converge.
//!
//! Layers (imports point downward): `cli` → `toy` → `math`.

pub mod app;
pub mod cli;
pub mod figure;
pub mod gpu;
pub mod io;
pub mod math;
pub mod real;
pub mod toy;
pub mod views;
