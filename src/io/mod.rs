//! Reading input data from the command line: logit vectors given inline, as `.npy`, or as text.
//!
//! No math and no UI; callers validate the numbers (NaN, ±inf) themselves.

pub mod vector;
