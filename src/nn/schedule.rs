//! Learning-rate schedules with Keras 3's formulas, evaluated at the optimizer's iteration count
//! on every step (so a schedule costs no trip back into Python).

#[derive(Debug, Clone, PartialEq)]
pub enum Schedule {
    ExponentialDecay { initial: f64, decay_steps: f64, decay_rate: f64, staircase: bool },
    InverseTimeDecay { initial: f64, decay_steps: f64, decay_rate: f64, staircase: bool },
    PiecewiseConstantDecay { boundaries: Vec<f64>, values: Vec<f64> },
    PolynomialDecay { initial: f64, decay_steps: f64, end: f64, power: f64, cycle: bool },
    CosineDecay { initial: f64, decay_steps: f64, alpha: f64, warmup_target: f64, warmup_steps: f64 },
}

impl Schedule {
    /// The learning rate at `step` (the optimizer's `iterations` before the update).
    pub fn at(&self, step: u64) -> f32 {
        let s = step as f64;
        let value = match self {
            Schedule::ExponentialDecay { initial, decay_steps, decay_rate, staircase } => {
                let p = s / decay_steps;
                initial * decay_rate.powf(if *staircase { p.floor() } else { p })
            }
            Schedule::InverseTimeDecay { initial, decay_steps, decay_rate, staircase } => {
                let p = s / decay_steps;
                initial / (1.0 + decay_rate * if *staircase { p.floor() } else { p })
            }
            Schedule::PiecewiseConstantDecay { boundaries, values } => {
                let i = boundaries.iter().take_while(|&&b| s > b).count();
                values[i.min(values.len() - 1)]
            }
            Schedule::PolynomialDecay { initial, decay_steps, end, power, cycle } => {
                let (step, steps) = if *cycle {
                    let multiplier = if s == 0.0 { 1.0 } else { (s / decay_steps).ceil() };
                    (s, decay_steps * multiplier)
                } else {
                    (s.min(*decay_steps), *decay_steps)
                };
                (initial - end) * (1.0 - step / steps).powf(*power) + end
            }
            Schedule::CosineDecay { initial, decay_steps, alpha, warmup_target, warmup_steps } => {
                if s < *warmup_steps {
                    initial + (warmup_target - initial) * (s / warmup_steps)
                } else {
                    let step = (s - warmup_steps).min(*decay_steps);
                    let cosine = 0.5 * (1.0 + (std::f64::consts::PI * step / decay_steps).cos());
                    warmup_target * ((1.0 - alpha) * cosine + alpha)
                }
            }
        };
        value as f32
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keras_formulas() {
        let e = Schedule::ExponentialDecay { initial: 0.1, decay_steps: 10.0, decay_rate: 0.5, staircase: true };
        assert!((e.at(15) - 0.05).abs() < 1e-7);
        let p = Schedule::PiecewiseConstantDecay { boundaries: vec![10.0, 20.0], values: vec![1.0, 0.5, 0.1] };
        assert_eq!((p.at(10), p.at(11), p.at(25)), (1.0, 0.5, 0.1));
        let c = Schedule::CosineDecay { initial: 0.0, decay_steps: 10.0, alpha: 0.0, warmup_target: 1.0, warmup_steps: 10.0 };
        assert!((c.at(5) - 0.5).abs() < 1e-7 && (c.at(15) - 0.5).abs() < 1e-6 && c.at(20).abs() < 1e-7);
    }
}
