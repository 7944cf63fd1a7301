//! Neural style transfer (Gatys et al. 2015) as the course teaches it:
//! from a content picture C and a style picture S, generate G by gradient
//! descent on G's pixels through a network whose weights stay fixed,
//! minimising `J(G) = alpha J_content(C, G) + beta J_style(S, G)`.
//!
//! - [`gram`]: the style (Gram) matrix of a tapped layer, `G = A^T A`, and
//!   the gradient through it.
//! - [`content_cost`], [`style_cost`], [`StyleTargets`] (the weighted sum
//!   over style layers) and [`total_variation`]: pure functions of one
//!   example's `[h, w, c]` activations that return the cost and write its
//!   gradient, ready for `Grads::tap`.
//! - [`Transfer`]: the loop, with Adam or [`Lbfgs`] on the pixels, the
//!   pixel range kept, a progress bar, the costs every few steps and
//!   snapshots. It drives any network with taps through [`Extractor`],
//!   which [`style_extractor!`](crate::style_extractor) implements for a
//!   `network!` struct in one line.
//!
//! The taps of a network name its layers; a tap on a convolution followed
//! by `Relu` is the convolution's output before the ReLU, so to read
//! VGG's `relu4_2` (what Gatys et al. and the course's Keras VGG use) tap
//! the `Relu` layer.
//!
//! With a `network!` struct, `cnn::style_extractor!(Net);` beside the
//! declaration makes it an [`Extractor`] (`tests/style.rs` and the
//! `style_transfer` example do it for a small VGG-like network and for
//! VGG-19). Here the costs alone, and the loop on an extractor written by
//! hand whose only "layer" is the picture itself:
//!
//! ```
//! use cnn_runtime::style::{self, CostFn, Extractor, Init, Method, Transfer};
//!
//! # fn main() -> Result<(), cnn_runtime::Error> {
//! // The costs are pure functions: value and gradient.
//! let a_s = vec![0.5f32; 4 * 4 * 2];
//! let mut gram = vec![0.0; 2 * 2];
//! style::gram(&a_s, [4, 4, 2], &mut gram)?;
//! assert_eq!(gram, [4.0; 4]); // 16 positions of 0.5 * 0.5
//! let a_g = vec![0.0f32; 4 * 4 * 2];
//! let mut da = vec![0.0; a_g.len()];
//! let j = style::style_cost(&gram, &a_g, [4, 4, 2], &mut da)?;
//! assert!((j - 4.0 * 16.0 / (2.0f32 * 32.0).powi(2)).abs() < 1e-6);
//!
//! /// A "network" with one tap, `pixels`: the picture itself.
//! struct Pixels;
//! impl Extractor for Pixels {
//!     fn picture_shape(&self) -> [usize; 3] { [8, 8, 3] }
//!     fn tap_shape(&self, _: &str) -> cnn_runtime::Result<[usize; 3]> { Ok([8, 8, 3]) }
//!     fn freeze_all(&mut self) {}
//!     fn run(&mut self, x: &[f32], taps: &[&str], grads: &mut [Vec<f32>],
//!            cost: &mut CostFn<'_>, dx: Option<&mut [f32]>) -> cnn_runtime::Result<f32> {
//!         grads.iter_mut().for_each(|g| g.resize(x.len(), 0.0));
//!         let acts = vec![x; taps.len()];
//!         let j = cost(&acts, grads)?;
//!         if let Some(dx) = dx {
//!             dx.fill(0.0);
//!             grads.iter().for_each(|g| dx.iter_mut().zip(g).for_each(|(d, v)| *d += v));
//!         }
//!         Ok(j)
//!     }
//! }
//!
//! // Match the style picture's channel correlations, from noise, with L-BFGS.
//! let style_pic: Vec<f32> = (0..8 * 8 * 3).map(|i| (i % 5) as f32 / 5.0).collect();
//! let mut settings = Transfer::course("pixels", &["pixels"]);
//! settings.content_layer = None; // texture synthesis
//! settings.init = Init::Noise;
//! settings.method = Method::Lbfgs { history: 10 };
//! settings.steps = 30;
//! let out = settings.run(&mut Pixels, None, &style_pic, &mut |_step, _picture| Ok(()))?;
//! assert!(out.last().style < out.first().style / 10.0);
//! assert!(out.picture.iter().all(|v| (0.0..=1.0).contains(v)));
//! # Ok(())
//! # }
//! ```

mod cost;
#[doc(hidden)]
pub mod extractor;
mod gram;
mod lbfgs;
mod transfer;

#[cfg(test)]
mod tests;

pub use cost::{content_cost, style_cost, total_variation, StyleLayer, StyleTargets};
pub use extractor::{CostFn, Extractor};
pub use gram::{gram, gram_backward, times_activations};
pub use lbfgs::{Lbfgs, LbfgsStep, Objective};
pub use transfer::{Costs, Init, Method, Outcome, Transfer};
