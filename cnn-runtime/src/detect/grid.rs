//! The YOLO grid (Redmon et al. 2016, with the anchors of YOLO v2): an
//! `S x S` grid over the picture, `A` anchor shapes per cell and `K`
//! classes, so an output volume of `S x S x A(5 + K)`. Each anchor's
//! `5 + K` channels come in the course's order:
//!
//! | channel | output (raw, what the network computes) | decoded |
//! |---|---|---|
//! | 0 | `to`, the object logit | `pc = sigmoid(to)` |
//! | 1, 2 | `tx, ty` | `bx = (col + sigmoid(tx)) / S`, `by = (row + sigmoid(ty)) / S` |
//! | 3, 4 | `th, tw` | `bh = anchor_h * exp(th)`, `bw = anchor_w * exp(tw)` |
//! | 5.. | class logits | class probabilities by softmax |
//!
//! Element `(row, col, anchor, channel)` is at
//! `((row * S + col) * A + anchor) * (5 + K) + channel`, the row-major
//! order of `[S, S, A, 5 + K]`, so a network's `[S, S, A(5 + K)]` NHWC
//! output is read as it is.
//!
//! The target volume ([`Grid::encode`]) has the same layout: for the cell
//! of an object's midpoint and the anchor whose shape has the best IoU with
//! its box, `[1, x, y, h, w, one-hot class]` with `(x, y)` the midpoint
//! relative to the cell (in `0..1`) and `(h, w)` the box's size relative to
//! the anchor's; every other anchor has `pc = 0` and the rest "don't care"
//! (zeros).

use super::boxes::{shape_iou, BBox, Detection, Object};
use super::check::check_grid;
use super::nms::suppress;
use crate::error::{Error, Result};

/// The largest `th` and `tw` the decoder takes: `exp(30)`, 1e13 times the
/// anchor, is already no box, and a larger value would overflow to an
/// infinite box that no IoU can be computed for.
pub const MAX_LOG_SIZE: f32 = 30.0;

/// An anchor box's shape, normalised to the picture (as box sizes are).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Anchor {
    /// Height.
    pub h: f32,
    /// Width.
    pub w: f32,
}

/// What [`Grid::decode`] keeps: scores `>= score_threshold`, then
/// non-max suppression at `iou_threshold` (see [`suppress`]).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Decode {
    /// Boxes whose score (`pc` times the class probability) is below
    /// this are dropped; a score equal to it is kept, as in the course's
    /// assignment (`yolo_filter_boxes` keeps `score >= threshold`).
    pub score_threshold: f32,
    /// Non-max suppression drops a box whose IoU with a better kept box
    /// is `>=` this.
    pub iou_threshold: f32,
    /// Suppress within each class (the lecture's rule) or across classes
    /// (the assignment's `tf.image.non_max_suppression`).
    pub per_class: bool,
    /// Keep at most this many boxes, the best.
    pub max_boxes: Option<usize>,
}

impl Decode {
    /// The lecture's: 0.6, 0.5, per class, no cap.
    pub const COURSE: Decode = Decode {
        score_threshold: 0.6,
        iou_threshold: 0.5,
        per_class: true,
        max_boxes: None,
    };
    /// The car-detection assignment's `yolo_eval`: 0.6, 0.5, across
    /// classes, at most 10 boxes.
    pub const ASSIGNMENT: Decode = Decode {
        score_threshold: 0.6,
        iou_threshold: 0.5,
        per_class: false,
        max_boxes: Some(10),
    };
}

impl Default for Decode {
    fn default() -> Self {
        Decode::COURSE
    }
}

/// An `S x S` grid with its anchors and number of classes.
#[derive(Clone, Debug, PartialEq)]
pub struct Grid {
    s: usize,
    anchors: Vec<Anchor>,
    classes: usize,
}

pub(crate) fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + (-x).exp())
}

/// `ln(p / (1 - p))`, the inverse of the sigmoid, for tests and round trips.
#[cfg(test)]
pub(crate) fn logit(p: f32) -> f32 {
    (p / (1.0 - p)).ln()
}

impl Grid {
    /// A grid of `s x s` cells, with `anchors` (positive, finite sizes)
    /// and `classes` classes; all three at least 1.
    pub fn new(s: usize, anchors: Vec<Anchor>, classes: usize) -> Result<Grid> {
        // The const check reports zero sizes and overflow; any shape
        // will do for that, so it is given the one the grid needs.
        let c = super::check::grid_channels(anchors.len(), classes).unwrap_or(0);
        check_grid(&[s, s, c], s, anchors.len(), classes)
            .map_err(|m| Error::InvalidArgument(m.as_str().to_string()))?;
        s.checked_mul(s)
            .and_then(|ss| ss.checked_mul(c))
            .ok_or_else(|| {
                Error::InvalidArgument(format!("detect: a {s}x{s}x{c} grid overflows usize"))
            })?;
        if let Some((i, a)) = anchors
            .iter()
            .enumerate()
            .find(|(_, a)| !(a.h > 0.0 && a.w > 0.0 && a.h.is_finite() && a.w.is_finite()))
        {
            return Err(Error::InvalidArgument(format!(
                "detect: anchor {i} is {}x{}; anchor sizes must be positive and finite",
                a.h, a.w
            )));
        }
        Ok(Grid {
            s,
            anchors,
            classes,
        })
    }

    /// `S`, the cells along each side.
    pub fn size(&self) -> usize {
        self.s
    }

    /// The anchors, in channel order.
    pub fn anchors(&self) -> &[Anchor] {
        &self.anchors
    }

    /// `K`.
    pub fn classes(&self) -> usize {
        self.classes
    }

    /// `5 + K`, the channels of one anchor.
    pub fn per_anchor(&self) -> usize {
        5 + self.classes
    }

    /// `[S, S, A(5 + K)]`, one example's output.
    pub fn shape(&self) -> [usize; 3] {
        [self.s, self.s, self.anchors.len() * self.per_anchor()]
    }

    /// `S * S * A(5 + K)`, the values of one example's output.
    pub fn len(&self) -> usize {
        self.s * self.s * self.anchors.len() * self.per_anchor()
    }

    /// Always false: a grid has at least one cell, anchor and class.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// Where `(row, col, anchor, channel)` is in a volume.
    pub fn index(&self, row: usize, col: usize, anchor: usize, channel: usize) -> usize {
        ((row * self.s + col) * self.anchors.len() + anchor) * self.per_anchor() + channel
    }

    /// The anchor whose shape has the best IoU with `(h, w)` (the first
    /// of equals).
    pub fn best_anchor(&self, h: f32, w: f32) -> usize {
        let mut best = (0, f32::NEG_INFINITY);
        for (i, a) in self.anchors.iter().enumerate() {
            let o = shape_iou((h, w), (a.h, a.w));
            if o > best.1 {
                best = (i, o);
            }
        }
        best.0
    }

    /// The `(row, col, anchor)` an object goes to: the cell that holds its
    /// midpoint (a midpoint on the picture's right or bottom edge goes to
    /// the last cell) and its best anchor. A box whose centre is outside
    /// `0..=1` or whose size is not positive is an `Err`.
    pub fn assign(&self, bbox: &BBox) -> Result<(usize, usize, usize)> {
        let b = bbox.checked("detect: assign")?;
        if !(0.0..=1.0).contains(&b.bx)
            || !(0.0..=1.0).contains(&b.by)
            || b.bh <= 0.0
            || b.bw <= 0.0
        {
            return Err(Error::InvalidArgument(format!(
                "detect: box {b:?} needs a centre in 0..=1 and a positive height and width"
            )));
        }
        let cell = |v: f32| ((v * self.s as f32) as usize).min(self.s - 1);
        Ok((cell(b.by), cell(b.bx), self.best_anchor(b.bh, b.bw)))
    }

    /// The target volume of one picture (`len()` values), see the
    /// module's docs.
    pub fn encode(&self, objects: &[Object]) -> Result<Vec<f32>> {
        let mut target = vec![0.0; self.len()];
        self.encode_into(objects, &mut target)?;
        Ok(target)
    }

    /// Writes the target volume of one picture into `target` (`len()`
    /// values, overwritten) and returns the indices of the objects that
    /// found their cell and anchor taken by an earlier object and were
    /// left out (the course: YOLO does not handle two objects of one shape
    /// in one cell). A class `>= K` or a box [`Grid::assign`] refuses is
    /// an `Err`, and `target` is left as it was.
    pub fn encode_into(&self, objects: &[Object], target: &mut [f32]) -> Result<Vec<usize>> {
        crate::error::check_len("detect: encode target", target.len(), self.len())?;
        let mut slots = Vec::with_capacity(objects.len());
        for (i, o) in objects.iter().enumerate() {
            if o.class >= self.classes {
                return Err(Error::LabelOutOfRange {
                    index: i,
                    label: o.class,
                    classes: self.classes,
                });
            }
            slots.push(self.assign(&o.bbox)?);
        }
        target.fill(0.0);
        let mut dropped = Vec::new();
        for (i, (o, &(row, col, a))) in objects.iter().zip(&slots).enumerate() {
            let at = self.index(row, col, a, 0);
            if target[at] == 1.0 {
                dropped.push(i);
                continue;
            }
            let s = self.s as f32;
            let anchor = self.anchors[a];
            target[at] = 1.0;
            target[at + 1] = o.bbox.bx * s - col as f32;
            target[at + 2] = o.bbox.by * s - row as f32;
            target[at + 3] = o.bbox.bh / anchor.h;
            target[at + 4] = o.bbox.bw / anchor.w;
            target[at + 5 + o.class] = 1.0;
        }
        Ok(dropped)
    }

    /// The objects of a target volume (the inverse of [`Grid::encode`]):
    /// every anchor with `pc = 1`, its class the largest class value.
    pub fn decode_target(&self, target: &[f32]) -> Result<Vec<Object>> {
        crate::error::check_len("detect: target", target.len(), self.len())?;
        let s = self.s as f32;
        let mut out = Vec::new();
        for row in 0..self.s {
            for col in 0..self.s {
                for (a, anchor) in self.anchors.iter().enumerate() {
                    let v = &target[self.index(row, col, a, 0)..][..self.per_anchor()];
                    if v[0] != 1.0 {
                        continue;
                    }
                    out.push(Object {
                        bbox: BBox::new(
                            (col as f32 + v[1]) / s,
                            (row as f32 + v[2]) / s,
                            v[3] * anchor.h,
                            v[4] * anchor.w,
                        ),
                        class: argmax(&v[5..]).0,
                    });
                }
            }
        }
        Ok(out)
    }

    /// Every anchor of an output volume as a scored box, with the
    /// activations of the module's table applied: score `pc * p(class)`
    /// for the most probable class. In volume order; no threshold.
    pub fn boxes(&self, output: &[f32]) -> Result<Vec<Detection>> {
        crate::error::check_len("detect: output", output.len(), self.len())?;
        if let Some(i) = output.iter().position(|v| !v.is_finite()) {
            return Err(Error::InvalidArgument(format!(
                "detect: output value {i} is {}; the network's output must be finite",
                output[i]
            )));
        }
        let s = self.s as f32;
        let mut out = Vec::with_capacity(self.s * self.s * self.anchors.len());
        let mut probs = vec![0.0; self.classes];
        for row in 0..self.s {
            for col in 0..self.s {
                for (a, anchor) in self.anchors.iter().enumerate() {
                    let v = &output[self.index(row, col, a, 0)..][..self.per_anchor()];
                    softmax(&v[5..], &mut probs);
                    let (class, p) = argmax(&probs);
                    out.push(Detection {
                        bbox: BBox::new(
                            (col as f32 + sigmoid(v[1])) / s,
                            (row as f32 + sigmoid(v[2])) / s,
                            anchor.h * v[3].min(MAX_LOG_SIZE).exp(),
                            anchor.w * v[4].min(MAX_LOG_SIZE).exp(),
                        ),
                        score: sigmoid(v[0]) * p,
                        class,
                    });
                }
            }
        }
        Ok(out)
    }

    /// The detections of one output volume: [`Grid::boxes`], those with a
    /// score `>= score_threshold`, then non-max suppression as `params`
    /// says; best first.
    pub fn decode(&self, output: &[f32], params: &Decode) -> Result<Vec<Detection>> {
        if !params.score_threshold.is_finite() {
            return Err(Error::InvalidArgument(format!(
                "detect: the score threshold must be finite, got {}",
                params.score_threshold
            )));
        }
        let candidates: Vec<Detection> = self
            .boxes(output)?
            .into_iter()
            .filter(|d| d.score >= params.score_threshold)
            .collect();
        let kept = suppress(
            &candidates,
            params.iou_threshold,
            params.per_class,
            params.max_boxes,
        )?;
        Ok(kept.into_iter().map(|i| candidates[i]).collect())
    }
}

/// The index and value of the largest element (the first of equals).
fn argmax(v: &[f32]) -> (usize, f32) {
    v.iter().enumerate().fold(
        (0, f32::NEG_INFINITY),
        |b, (i, &x)| if x > b.1 { (i, x) } else { b },
    )
}

/// `out = softmax(z)`, shifted by the maximum so that `exp` cannot
/// overflow.
pub(crate) fn softmax(z: &[f32], out: &mut [f32]) {
    let m = z.iter().fold(f32::NEG_INFINITY, |m, &x| m.max(x));
    let mut sum = 0.0;
    for (o, &x) in out.iter_mut().zip(z) {
        *o = (x - m).exp();
        sum += *o;
    }
    for o in out.iter_mut() {
        *o /= sum;
    }
}
