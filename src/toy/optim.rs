//! Full-batch optimisers with PyTorch's update rules.

use crate::math::range::short;
use serde::{Deserialize, Serialize};

use crate::math::simd::multiversion;

/// The TOML `[optimizer]` table.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase", deny_unknown_fields)]
pub enum OptimizerSpec {
    /// `torch.optim.SGD` (dampening 0, no Nesterov).
    Sgd {
        lr: f64,
        #[serde(default)]
        momentum: f64,
    },
    /// `torch.optim.Adam` (no weight decay, no AMSGrad).
    Adam {
        lr: f64,
        #[serde(default = "default_betas")]
        betas: [f64; 2],
        #[serde(default = "default_eps")]
        eps: f64,
    },
}

fn default_betas() -> [f64; 2] {
    [0.9, 0.999]
}

fn default_eps() -> f64 {
    1e-8
}

impl OptimizerSpec {
    pub fn adam(lr: f64) -> Self {
        OptimizerSpec::Adam {
            lr,
            betas: default_betas(),
            eps: default_eps(),
        }
    }

    pub fn lr(&self) -> f64 {
        match *self {
            OptimizerSpec::Sgd { lr, .. } | OptimizerSpec::Adam { lr, .. } => lr,
        }
    }

    pub fn check(&self) -> Result<(), String> {
        let lr = self.lr();
        if !(lr.is_finite() && lr > 0.0 && lr <= 1e6) {
            return Err(format!(
                "optimizer lr={}; expected a positive number up to 1e6",
                short(lr)
            ));
        }
        match *self {
            OptimizerSpec::Sgd { momentum, .. } => {
                if !(0.0..1.0).contains(&momentum) {
                    return Err(format!(
                        "optimizer momentum={}; expected a number in [0, 1)",
                        short(momentum)
                    ));
                }
            }
            OptimizerSpec::Adam { betas, eps, .. } => {
                for (i, b) in betas.iter().enumerate() {
                    if !(0.0..1.0).contains(b) {
                        return Err(format!(
                            "optimizer betas[{i}]={}; expected a number in [0, 1)",
                            short(*b)
                        ));
                    }
                }
                if !(eps.is_finite() && eps > 0.0) {
                    return Err(format!(
                        "optimizer eps={}; expected a positive number",
                        short(eps)
                    ));
                }
            }
        }
        Ok(())
    }
}

/// Optimiser state for one parameter vector.
#[derive(Debug, Clone)]
pub struct Optimizer {
    spec: OptimizerSpec,
    m: Vec<f64>,
    v: Vec<f64>,
    step: i32,
}

impl Optimizer {
    pub fn new(spec: OptimizerSpec, n: usize) -> Self {
        Optimizer {
            spec,
            m: vec![0.0; n],
            v: vec![0.0; n],
            step: 0,
        }
    }

    /// One update of `params` along `grad`.
    pub fn step(&mut self, params: &mut [f64], grad: &[f64]) {
        self.step += 1;
        match self.spec {
            OptimizerSpec::Sgd { lr, momentum } => {
                if momentum == 0.0 {
                    for (x, &g) in params.iter_mut().zip(grad) {
                        *x -= lr * g;
                    }
                } else {
                    let first = self.step == 1;
                    for ((x, &g), buf) in params.iter_mut().zip(grad).zip(&mut self.m) {
                        // torch initialises the momentum buffer with the first gradient.
                        *buf = if first { g } else { momentum * *buf + g };
                        *x -= lr * *buf;
                    }
                }
            }
            OptimizerSpec::Adam {
                lr,
                betas: [b1, b2],
                eps,
            } => {
                let bc1 = 1.0 - b1.powi(self.step);
                let bc2_sqrt = (1.0 - b2.powi(self.step)).sqrt();
                let step_size = lr / bc1;
                let inv_bc2 = 1.0 / bc2_sqrt;
                let m = &mut self.m;
                adam_update(
                    [b1, b2, eps, step_size, inv_bc2],
                    params,
                    grad,
                    m,
                    &mut self.v,
                );
            }
        }
    }
}

multiversion! {
    /// Adam's moment updates and parameter step; `k = [β1, β2, eps, lr/bc1, 1/√bc2]`.
    fn adam_update[s](k: [f64; 5], params: &mut [f64], grad: &[f64], m: &mut [f64], v: &mut [f64]) {
        let [b1, b2, eps, step_size, inv_bc2] = k;
        for (((x, &g), m), v) in params.iter_mut().zip(grad).zip(m).zip(v) {
            *m = b1 * *m + (1.0 - b1) * g;
            *v = b2 * *v + (1.0 - b2) * g * g;
            // eps is added after the bias-corrected square root, as torch does.
            *x -= step_size * *m / (v.sqrt() * inv_bc2 + eps);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adam_first_step_is_lr_times_sign() {
        let mut opt = Optimizer::new(OptimizerSpec::adam(0.1), 3);
        let mut x = vec![0.0, 0.0, 0.0];
        opt.step(&mut x, &[2.0, -1e-3, 0.0]);
        assert!((x[0] + 0.1).abs() < 1e-9);
        assert!((x[1] - 0.1 * 1e-3 / (1e-3 + 1e-8)).abs() < 1e-12);
        assert_eq!(x[2], 0.0);
    }

    #[test]
    fn adam_matches_a_hand_computed_second_step() {
        // torch.optim.Adam(lr=0.2) on a single parameter with gradients 1.0 then 3.0.
        let mut opt = Optimizer::new(OptimizerSpec::adam(0.2), 1);
        let mut x = vec![0.0];
        opt.step(&mut x, &[1.0]);
        opt.step(&mut x, &[3.0]);
        let m = 0.9 * 0.1 + 0.1 * 3.0;
        let v = 0.999 * 0.001 + 0.001 * 9.0;
        let second = 0.2 / (1.0 - 0.81) * m / ((v / (1.0 - 0.999f64.powi(2))).sqrt() + 1e-8);
        let first = 0.2 * 1.0 / (1.0 + 1e-8);
        assert!((x[0] + first + second).abs() < 1e-12, "{}", x[0]);
    }

    #[test]
    fn sgd_momentum_matches_torch() {
        let mut opt = Optimizer::new(
            OptimizerSpec::Sgd {
                lr: 0.5,
                momentum: 0.9,
            },
            1,
        );
        let mut x = vec![1.0];
        opt.step(&mut x, &[1.0]); // buf = 1
        opt.step(&mut x, &[2.0]); // buf = 0.9 + 2 = 2.9
        assert!((x[0] - (1.0 - 0.5 - 0.5 * 2.9)).abs() < 1e-15);
    }
}
