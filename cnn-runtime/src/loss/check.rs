//! The checks every built-in loss starts with: the batch's layout from the
//! output's length and the per-example shape, the target's kind and
//! length, class labels in range. They all run before anything is written
//! to `grad`, so a loss that returns an `Err` leaves `grad` as it was.
//! Messages name the loss, say what was expected with the caller's
//! numbers, and are built only when something is wrong.

use super::Target;
use crate::error::{Error, Result};

/// How a batch of outputs is laid out: `batch` examples of `per_example`
/// values, each `positions` rows of `channels` (the last axis of `shape`).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Layout {
    pub batch: usize,
    pub positions: usize,
    pub channels: usize,
}

impl Layout {
    /// `batch * positions`: the rows a per-position softmax runs over.
    pub fn rows(&self) -> usize {
        self.batch * self.positions
    }
}

/// Reads the layout of `output` from `shape` (one example's shape) and
/// checks that `grad` is as long as `output`.
pub(crate) fn layout(name: &str, output: &[f32], shape: &[usize], grad: &[f32]) -> Result<Layout> {
    let Some((&channels, outer)) = shape.split_last() else {
        return Err(Error::InvalidArgument(format!(
            "{name}: the shape of one example is empty; give at least one axis ([n] for a vector)"
        )));
    };
    let positions = outer.iter().try_fold(1usize, |p, &d| p.checked_mul(d));
    let per_example = positions.and_then(|p| p.checked_mul(channels));
    let (Some(positions), Some(per_example)) = (positions, per_example) else {
        return Err(Error::InvalidArgument(format!(
            "{name}: the example shape {shape:?} overflows"
        )));
    };
    if per_example == 0 {
        return Err(Error::InvalidArgument(format!(
            "{name}: the example shape {shape:?} has an axis of 0"
        )));
    }
    if output.is_empty() || !output.len().is_multiple_of(per_example) {
        return Err(Error::shape(
            format!("{name} output"),
            format!("a positive multiple of {per_example} values (examples of shape {shape:?})"),
            output.len(),
        ));
    }
    if grad.len() != output.len() {
        return Err(Error::shape(
            format!("{name} grad"),
            format!("{} values, as many as the output", output.len()),
            grad.len(),
        ));
    }
    Ok(Layout {
        batch: output.len() / per_example,
        positions,
        channels,
    })
}

/// The variant's name, as messages show it.
pub(crate) fn kind(target: &Target<'_>) -> &'static str {
    match target {
        Target::Classes(_) => "Target::Classes",
        Target::LabelMap(_) => "Target::LabelMap",
        Target::Values(_) => "Target::Values",
    }
}

/// A target of a kind the loss does not take; `takes` says what it takes.
pub(crate) fn wrong_kind(name: &str, target: &Target<'_>, takes: &str) -> Error {
    Error::InvalidArgument(format!("{name}: takes {takes}, not {}", kind(target)))
}

/// Checks that a target holds `expected` items; `what` says what one
/// item is (`"class labels, one per example"`).
pub(crate) fn target_len(name: &str, len: usize, expected: usize, what: &str) -> Result<()> {
    if len == expected {
        Ok(())
    } else {
        Err(Error::shape(
            format!("{name} target"),
            format!("{expected} {what}"),
            len,
        ))
    }
}

/// The first label not below `classes` is [`Error::LabelOutOfRange`].
pub(crate) fn labels_in_range(labels: &[usize], classes: usize) -> Result<()> {
    match labels.iter().position(|&l| l >= classes) {
        None => Ok(()),
        Some(index) => Err(Error::LabelOutOfRange {
            index,
            label: labels[index],
            classes,
        }),
    }
}

/// A weight or other setting that must be finite and at least `min`.
pub(crate) fn setting_at_least(name: &str, setting: &str, value: f32, min: f32) -> Result<()> {
    if value.is_finite() && value >= min {
        Ok(())
    } else {
        Err(Error::InvalidArgument(format!(
            "{name}: {setting} must be a finite number >= {min}, got {value}"
        )))
    }
}
