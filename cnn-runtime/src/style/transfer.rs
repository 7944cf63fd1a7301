//! The transfer loop: the network's weights stay fixed and the picture's
//! pixels are optimised (Gatys et al. 2015). It starts from the content
//! picture plus uniform noise, or from noise alone (texture synthesis),
//! minimises `J = alpha J_content + beta J_style (+ tv * TV)` with Adam or
//! L-BFGS, keeps every pixel in the valid range (Adam's steps are clipped;
//! L-BFGS projects its trial points), reports the costs every few steps
//! under a progress bar and hands snapshots to the caller.
//!
//! The network sees `(x - mean) / std` per channel (torchvision's VGG
//! expects ImageNet's statistics on pixels in 0..1); the costs'
//! gradient is taken back through that map, so the picture stays in
//! pixel units.

use std::cell::Cell;
use std::io::IsTerminal;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::cost::{content_cost, style_cost, total_variation, StyleTargets};
use super::extractor::Extractor;
use super::lbfgs::Lbfgs;
use crate::error::{check_len, Error, Result};
use crate::optim::{Adam, Optimizer};
use crate::rng::Rng;

/// Where the picture starts.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Init {
    /// The content picture plus noise uniform in `[-a, a]`, clipped to the
    /// range (the course's assignment: `a = 0.25` on pixels in 0..1).
    ContentPlusNoise(f32),
    /// Noise uniform over the pixel range (texture synthesis).
    Noise,
}

/// The optimiser on the pixels.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Method {
    /// Adam with this learning rate (the course's assignment).
    Adam {
        /// The learning rate, in pixel units per step.
        lr: f32,
    },
    /// L-BFGS keeping `history` pairs (Gatys et al.'s choice); one step is
    /// one iteration, which may evaluate the costs several times.
    Lbfgs {
        /// Pairs kept.
        history: usize,
    },
}

/// The costs at one point.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Costs {
    /// The step (0: the starting picture).
    pub step: usize,
    /// `J_content` (0 without a content layer).
    pub content: f32,
    /// `J_style`, the weighted sum over the style layers.
    pub style: f32,
    /// The total variation (unweighted).
    pub tv: f32,
    /// `alpha J_content + beta J_style + tv_weight TV`.
    pub total: f32,
}

/// What [`Transfer::run`] gives back.
#[derive(Clone, Debug)]
pub struct Outcome {
    /// The final picture, `[h, w, c]`, in the pixel range.
    pub picture: Vec<f32>,
    /// The costs at the start and at every reported step, then at the end.
    pub history: Vec<Costs>,
    /// Cost evaluations (forward and backward passes) in all.
    pub evals: usize,
}

impl Outcome {
    /// The costs at the start.
    pub fn first(&self) -> Costs {
        self.history.first().copied().unwrap_or_default()
    }
    /// The costs at the end.
    pub fn last(&self) -> Costs {
        self.history.last().copied().unwrap_or_default()
    }
}

/// The settings of one transfer; [`Transfer::course`] gives the course's
/// assignment's, then change the fields you need.
#[derive(Clone, Debug)]
pub struct Transfer {
    /// The content layer (a tap), or `None` for texture synthesis.
    pub content_layer: Option<String>,
    /// The style layers (taps) with their weights `lambda[l]`.
    pub style_layers: Vec<(String, f32)>,
    /// The content cost's weight.
    pub alpha: f32,
    /// The style cost's weight.
    pub beta: f32,
    /// The total variation's weight (0: off).
    pub tv_weight: f32,
    /// Where the picture starts.
    pub init: Init,
    /// The optimiser.
    pub method: Method,
    /// Optimiser steps.
    pub steps: usize,
    /// Record (and print, with `progress`) the costs every this many steps.
    pub report_every: usize,
    /// Hand the picture to the snapshot callback every this many steps
    /// (0: only the start and the end).
    pub snapshot_every: usize,
    /// The valid pixel range.
    pub range: (f32, f32),
    /// The network's input is `(x - mean[k]) / std[k]` in channel `k`.
    pub mean: Vec<f32>,
    /// See `mean`.
    pub std: Vec<f32>,
    /// The noise's seed.
    pub seed: u64,
    /// Show a progress bar and the costs on standard error.
    pub progress: bool,
}

impl Transfer {
    /// The course's assignment: content layer `content`, style layers
    /// `styles` with `lambda = 1 / styles.len()` each (0.2 for five),
    /// `alpha = 10`, `beta = 40`, Adam (learning rate 0.01), the content
    /// picture plus noise in `[-0.25, 0.25]`, pixels in 0..1 seen as they
    /// are; 200 steps, costs every 20.
    pub fn course(content: &str, styles: &[&str]) -> Self {
        let lambda = 1.0 / styles.len().max(1) as f32;
        Transfer {
            content_layer: Some(content.to_string()),
            style_layers: styles.iter().map(|s| (s.to_string(), lambda)).collect(),
            alpha: 10.0,
            beta: 40.0,
            tv_weight: 0.0,
            init: Init::ContentPlusNoise(0.25),
            method: Method::Adam { lr: 0.01 },
            steps: 200,
            report_every: 20,
            snapshot_every: 0,
            range: (0.0, 1.0),
            mean: vec![],
            std: vec![],
            seed: 0,
            progress: false,
        }
    }

    /// The distinct taps the costs read: the content layer, then the
    /// style layers.
    fn taps(&self) -> Vec<&str> {
        let mut taps: Vec<&str> = Vec::new();
        let names = self
            .content_layer
            .iter()
            .chain(self.style_layers.iter().map(|(s, _)| s));
        for name in names {
            if !taps.contains(&name.as_str()) {
                taps.push(name);
            }
        }
        taps
    }

    /// Transfers `style`'s style onto `content` (or synthesises `style`'s
    /// texture when `content_layer` is `None`, `content` then only
    /// optional) through `net`, whose parameters it freezes. Both pictures
    /// are `[h, w, c]` of the network's input shape, in the pixel range.
    /// `snapshot(step, picture)` is called at the start, every
    /// `snapshot_every` steps and at the end.
    pub fn run(
        &self,
        net: &mut dyn Extractor,
        content: Option<&[f32]>,
        style: &[f32],
        snapshot: &mut dyn FnMut(usize, &[f32]) -> Result<()>,
    ) -> Result<Outcome> {
        let shape = net.picture_shape();
        let n = shape.iter().product::<usize>();
        let channels = shape[2];
        check_len("style transfer: the style picture", style.len(), n)?;
        if let Some(c) = content {
            check_len("style transfer: the content picture", c.len(), n)?;
        }
        let content = match (&self.content_layer, content, self.init) {
            (Some(_), None, _) => {
                return Err(Error::InvalidArgument(
                    "style transfer: a content layer needs a content picture".into(),
                ))
            }
            (_, None, Init::ContentPlusNoise(_)) => {
                return Err(Error::InvalidArgument(
                    "style transfer: starting from the content picture needs one".into(),
                ))
            }
            (_, c, _) => c,
        };
        let norm = Normalise::new(&self.mean, &self.std, channels)?;
        net.freeze_all();
        let taps = self.taps();
        let shapes = taps
            .iter()
            .map(|t| net.tap_shape(t))
            .collect::<Result<Vec<_>>>()?;
        let mut grads: Vec<Vec<f32>> = vec![Vec::new(); taps.len()];

        // The targets: the content picture's activations at the content
        // layer and the style picture's Gram matrices.
        let mut content_target = Vec::new();
        let content_index = self
            .content_layer
            .as_ref()
            .map(|c| taps.iter().position(|t| t == c).unwrap_or(0));
        if let (Some(k), Some(c)) = (content_index, content) {
            let x = norm.forward(c);
            net.run(
                &x,
                &taps[k..=k],
                &mut grads[..1],
                &mut |acts, _| {
                    content_target = acts[0].to_vec();
                    Ok(0.0)
                },
                None,
            )?;
        }
        let mut targets = StyleTargets::new();
        let style_index: Vec<usize> = self
            .style_layers
            .iter()
            .map(|(s, _)| taps.iter().position(|t| t == s).unwrap_or(0))
            .collect();
        {
            let x = norm.forward(style);
            let mut add = |acts: &[&[f32]], _: &mut [Vec<f32>]| {
                for ((name, lambda), &k) in self.style_layers.iter().zip(&style_index) {
                    targets.add(name, *lambda, acts[k], shapes[k])?;
                }
                Ok(0.0)
            };
            net.run(&x, &taps, &mut grads, &mut add, None)?;
        }

        // The starting picture.
        let (lo, hi) = self.range;
        let mut rng = Rng::new(self.seed);
        let mut x: Vec<f32> = match (self.init, content) {
            (Init::ContentPlusNoise(a), Some(c)) => c
                .iter()
                .map(|&v| (v + rng.uniform_in(-a, a)).clamp(lo, hi))
                .collect(),
            _ => (0..n).map(|_| rng.uniform_in(lo, hi)).collect(),
        };

        // J and its gradient at a picture, with its parts in `last`.
        let last = Cell::new(Costs::default());
        let mut scratch: Vec<Vec<f32>> = shapes
            .iter()
            .map(|s| vec![0.0; s.iter().product()])
            .collect();
        let evals = Cell::new(0usize);
        let mut objective = |x: &[f32], dx: &mut [f32]| -> Result<f32> {
            evals.set(evals.get() + 1);
            let xn = norm.forward(x);
            let mut parts = (0.0f32, 0.0f32);
            let mut cost = |acts: &[&[f32]], g: &mut [Vec<f32>]| -> Result<f32> {
                g.iter_mut().for_each(|b| b.fill(0.0));
                if let Some(k) = content_index {
                    let j = content_cost(&content_target, acts[k], shapes[k], &mut scratch[k])?;
                    axpy(self.alpha, &scratch[k], &mut g[k]);
                    parts.0 = j;
                }
                let mut js = 0.0f64;
                for (layer, &k) in targets.layers.iter().zip(&style_index) {
                    let j = style_cost(&layer.gram, acts[k], shapes[k], &mut scratch[k])?;
                    axpy(self.beta * layer.weight, &scratch[k], &mut g[k]);
                    js += layer.weight as f64 * j as f64;
                }
                parts.1 = js as f32;
                Ok(self.alpha * parts.0 + self.beta * parts.1)
            };
            let j = net.run(&xn, &taps, &mut grads, &mut cost, Some(dx))?;
            norm.backward(dx);
            let tv = if self.tv_weight != 0.0 {
                total_variation(x, shape, self.tv_weight, dx)?
            } else {
                0.0
            };
            let costs = Costs {
                step: 0,
                content: parts.0,
                style: parts.1,
                tv,
                total: j + self.tv_weight * tv,
            };
            last.set(costs);
            Ok(costs.total)
        };

        let bar = progress_bar(self.progress, self.steps);
        let say = |line: String| {
            if bar.is_hidden() {
                if self.progress {
                    eprintln!("{line}");
                }
            } else {
                bar.println(line);
            }
        };
        let report = |c: &Costs| {
            format!(
                "step {:>5}: J {:.4e}  content {:.4e}  style {:.4e}{}",
                c.step,
                c.total,
                c.content,
                c.style,
                if self.tv_weight != 0.0 {
                    format!("  tv {:.4e}", c.tv)
                } else {
                    String::new()
                }
            )
        };
        let mut history = Vec::new();
        let mut dx = vec![0.0f32; n];
        objective(&x, &mut dx)?;
        let mut current = last.get();
        history.push(current);
        say(report(&current));
        snapshot(0, &x)?;
        let mut adam = Adam::new(match self.method {
            Method::Adam { lr } => lr,
            Method::Lbfgs { .. } => 0.0,
        });
        let mut lbfgs = match self.method {
            Method::Lbfgs { history } => Some(Lbfgs::new(history).bounds(lo, hi)),
            Method::Adam { .. } => None,
        };
        for step in 1..=self.steps {
            match lbfgs.as_mut() {
                None => {
                    if step > 1 {
                        objective(&x, &mut dx)?;
                    }
                    adam.try_step(&mut x, &dx)?;
                    x.iter_mut().for_each(|v| *v = v.clamp(lo, hi));
                    current = Costs { step, ..last.get() };
                }
                Some(opt) => {
                    let s = opt.step(&mut x, &mut objective)?;
                    // The last evaluation is the accepted point, unless the
                    // search stalled and kept the previous one.
                    current = if s.stalled {
                        Costs { step, ..current }
                    } else {
                        Costs { step, ..last.get() }
                    };
                }
            }
            if !current.total.is_finite() {
                bar.finish_and_clear();
                return Err(Error::NonFiniteLoss {
                    loss: current.total,
                    at: format!("style transfer step {step}"),
                });
            }
            bar.set_position(step as u64);
            bar.set_message(format!("J {:.3e}", current.total));
            if self.report_every > 0 && step % self.report_every == 0 && step < self.steps {
                history.push(current);
                say(report(&current));
            }
            if self.snapshot_every > 0 && step % self.snapshot_every == 0 && step < self.steps {
                snapshot(step, &x)?;
            }
        }
        bar.finish_and_clear();
        // With Adam the costs so far were those before each step: the
        // final picture's are one more evaluation.
        if matches!(self.method, Method::Adam { .. }) && self.steps > 0 {
            objective(&x, &mut dx)?;
            current = Costs {
                step: self.steps,
                ..last.get()
            };
        }
        history.push(current);
        say(report(&current));
        snapshot(self.steps, &x)?;
        Ok(Outcome {
            picture: x,
            history,
            evals: evals.get(),
        })
    }
}

/// `y += a x`.
fn axpy(a: f32, x: &[f32], y: &mut [f32]) {
    for (yi, xi) in y.iter_mut().zip(x) {
        *yi += a * xi;
    }
}

/// The map from pixels to the network's input, per channel.
struct Normalise {
    mean: Vec<f32>,
    inv_std: Vec<f32>,
}

impl Normalise {
    fn new(mean: &[f32], std: &[f32], channels: usize) -> Result<Self> {
        let fill = |v: &[f32], default: f32, what: &str| -> Result<Vec<f32>> {
            match v.len() {
                0 => Ok(vec![default; channels]),
                1 => Ok(vec![v[0]; channels]),
                k if k == channels => Ok(v.to_vec()),
                k => Err(Error::InvalidArgument(format!(
                    "style transfer: {k} values of {what} for a picture of {channels} channels"
                ))),
            }
        };
        let mean = fill(mean, 0.0, "mean")?;
        let std = fill(std, 1.0, "std")?;
        if std.iter().any(|s| !(s.is_finite() && *s > 0.0)) {
            return Err(Error::InvalidArgument(format!(
                "style transfer: std {std:?} must be positive"
            )));
        }
        Ok(Normalise {
            mean,
            inv_std: std.iter().map(|s| 1.0 / s).collect(),
        })
    }

    fn forward(&self, x: &[f32]) -> Vec<f32> {
        let c = self.mean.len();
        x.iter()
            .enumerate()
            .map(|(i, v)| (v - self.mean[i % c]) * self.inv_std[i % c])
            .collect()
    }

    /// The gradient with respect to the pixels from the network input's.
    fn backward(&self, dx: &mut [f32]) {
        let c = self.inv_std.len();
        dx.iter_mut()
            .enumerate()
            .for_each(|(i, v)| *v *= self.inv_std[i % c]);
    }
}

fn progress_bar(visible: bool, steps: usize) -> ProgressBar {
    let target = if visible && std::io::stderr().is_terminal() {
        ProgressDrawTarget::stderr_with_hz(10)
    } else {
        ProgressDrawTarget::hidden()
    };
    let bar = ProgressBar::with_draw_target(Some(steps as u64), target);
    let style = ProgressStyle::with_template(
        "transfer [{bar:30}] {pos}/{len} {msg} ({elapsed}, eta {eta})",
    )
    .unwrap_or_else(|_| ProgressStyle::default_bar())
    .progress_chars("=> ");
    bar.set_style(style);
    bar
}
