//! Slow, obviously correct versions for tests (f64 inside), straight from
//! the definitions; erf by its everywhere-convergent series, independent of
//! the fitted one in `erf.rs`.

use crate::geom::Act;

/// `erf(x)` from `2 / sqrt(pi) * exp(-x^2) * sum 2^n x^(2n+1) / (2n+1)!!`
/// (Abramowitz and Stegun 7.1.6), whose terms are all positive, summed
/// until they stop changing the sum.
pub fn erf(x: f64) -> f64 {
    if x.abs() > 6.0 {
        // erfc(6) = 2.2e-17: 1 in f64.
        return x.signum();
    }
    let (mut term, mut sum, mut n) = (x, x, 0.0);
    while term.abs() > 1e-17 * sum.abs() {
        n += 1.0;
        term *= 2.0 * x * x / (2.0 * n + 1.0);
        sum += term;
    }
    2.0 / std::f64::consts::PI.sqrt() * (-x * x).exp() * sum
}

fn phi(x: f64) -> f64 {
    0.5 * (1.0 + erf(x / std::f64::consts::SQRT_2))
}

fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

fn relu6(x: f64) -> f64 {
    x.clamp(0.0, 6.0)
}

/// `sqrt(2 / pi)` and the cubic's factor of the tanh GELU (Hendrycks and
/// Gimpel, 2016).
const GELU_K: f64 = 0.797_884_560_802_865_4;
const GELU_C: f64 = 0.044_715;

/// `act(x)` in f64, straight from the definition.
pub fn apply(act: Act, x: f32) -> f32 {
    let x = x as f64;
    let y = match act {
        Act::Identity => x,
        Act::Relu => x.max(0.0),
        Act::LeakyRelu(alpha) => {
            if x > 0.0 {
                x
            } else {
                alpha as f64 * x
            }
        }
        Act::Tanh => x.tanh(),
        Act::Sigmoid => sigmoid(x),
        Act::Relu6 => relu6(x),
        Act::Silu => x * sigmoid(x),
        Act::Hardswish => x * relu6(x + 3.0) / 6.0,
        Act::Hardsigmoid => relu6(x + 3.0) / 6.0,
        Act::Gelu => x * phi(x),
        Act::GeluTanh => 0.5 * x * (1.0 + (GELU_K * (x + GELU_C * x * x * x)).tanh()),
    };
    y as f32
}

/// `act'(x)` from the input, in f64. At a kink, PyTorch's choice: the
/// outer piece's slope (ReLU6, hardsigmoid, hardswish).
pub fn derivative(act: Act, x: f32) -> f32 {
    let x = x as f64;
    let step = |inside: bool, v: f64| if inside { v } else { 0.0 };
    let d = match act {
        Act::Identity => 1.0,
        Act::Relu => step(x > 0.0, 1.0),
        Act::LeakyRelu(alpha) => {
            if x > 0.0 {
                1.0
            } else {
                alpha as f64
            }
        }
        Act::Tanh => 1.0 - x.tanh().powi(2),
        Act::Sigmoid => {
            let s = sigmoid(x);
            s * (1.0 - s)
        }
        Act::Relu6 => step(x > 0.0 && x < 6.0, 1.0),
        Act::Silu => {
            let s = sigmoid(x);
            s + x * s * (1.0 - s)
        }
        Act::Hardswish => {
            if x <= -3.0 {
                0.0
            } else if x < 3.0 {
                x / 3.0 + 0.5
            } else {
                1.0
            }
        }
        Act::Hardsigmoid => step(x > -3.0 && x < 3.0, 1.0 / 6.0),
        Act::Gelu => {
            let density = (-0.5 * x * x).exp() / (2.0 * std::f64::consts::PI).sqrt();
            phi(x) + x * density
        }
        Act::GeluTanh => {
            let t = (GELU_K * (x + GELU_C * x * x * x)).tanh();
            0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * GELU_K * (1.0 + 3.0 * GELU_C * x * x)
        }
    };
    d as f32
}

/// Row-wise softmax in f64.
pub fn softmax(batch: usize, classes: usize, x: &[f32]) -> Vec<f32> {
    let mut y = vec![0.0; batch * classes];
    for b in 0..batch {
        let row = &x[b * classes..(b + 1) * classes];
        let max = row.iter().fold(f64::NEG_INFINITY, |m, &v| m.max(v as f64));
        let sum: f64 = row.iter().map(|&v| (v as f64 - max).exp()).sum();
        for (k, &v) in row.iter().enumerate() {
            y[b * classes + k] = ((v as f64 - max).exp() / sum) as f32;
        }
    }
    y
}
