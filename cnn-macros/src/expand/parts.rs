//! What the planner worked out for a network without errors, handed from
//! `mod.rs` to the emitters (`api.rs`, `passes.rs`, `train.rs`). It lives
//! on its own so that they all import it from here and none from another.

use super::layout::Params;
use super::plan::Program;

/// What the planner worked out for a network without errors.
pub struct Parts<'a> {
    pub params: &'a Params,
    pub train: &'a Program,
    pub infer: &'a Program,
    pub fused_softmax: bool,
}
