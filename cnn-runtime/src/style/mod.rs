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
//! ```
//! use cnn::prelude::*;
//! use cnn::style::{self, Init, Method, Transfer};
//!
//! network! {
//!     /// A small feature extractor: what the costs read are taps.
//!     struct Tiny {
//!         input: [16, 16, 3],
//!         layers: [
//!             c1: Conv2d { filters: 8, kernel: 3, padding: 1 },
//!             r1: Relu,
//!             MaxPool2d { size: 2 },
//!             c2: Conv2d { filters: 8, kernel: 3, padding: 1 },
//!             r2: Relu,
//!         ],
//!         taps: [r1, r2],
//!     }
//! }
//! cnn::style_extractor!(Tiny);
//!
//! # fn main() -> Result<(), cnn::Error> {
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
//! // The loop, with random weights (a texture from random filters).
//! let mut net = Tiny::new(7);
//! let content: Vec<f32> = (0..16 * 16 * 3).map(|i| (i % 7) as f32 / 7.0).collect();
//! let style_pic: Vec<f32> = (0..16 * 16 * 3).map(|i| (i % 5) as f32 / 5.0).collect();
//! let mut settings = Transfer::course("r2", &["r1", "r2"]);
//! settings.method = Method::Lbfgs { history: 10 };
//! settings.init = Init::ContentPlusNoise(0.1);
//! settings.steps = 20;
//! let out = settings.run(&mut net, Some(&content), &style_pic, &mut |_, _| Ok(()))?;
//! assert!(out.last().style < out.first().style);
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
pub use lbfgs::{Lbfgs, LbfgsStep};
pub use transfer::{Costs, Init, Method, Outcome, Transfer};
