//! Object detection (the course's week 3): boxes, intersection over union,
//! non-max suppression, the YOLO grid with its anchors, target encoder,
//! decoder and loss, and mean average precision. Everything here is plain
//! functions on slices and small structs: no network is needed, and a
//! network's output is read as the `[S, S, A(5 + K)]` volume it is.
//!
//! Conventions, each with the place that details it:
//!
//! - Boxes ([`BBox`]) are the course's: centre `(bx, by)`, height and
//!   width `(bh, bw)`, normalised to the picture, `(0, 0)` top-left;
//!   [`Corners`] is the `(x1, y1, x2, y2)` form. [`iou`] treats
//!   coordinates as continuous: a width is `x2 - x1`, without the `+ 1` of
//!   pixel-counting code ([`boxes`]).
//! - Non-max suppression ([`nms()`]) is the course's, per class: boxes with
//!   `score <= score_threshold` go, then the best box stays and every box
//!   of its class with IoU `>=` `iou_threshold` with it goes (a box at
//!   exactly the threshold is suppressed; torchvision suppresses at `>`).
//!   [`soft_nms`] is the Gaussian soft-NMS of Bodla et al. 2017.
//! - The YOLO output ([`Grid`]) is, per cell and per anchor,
//!   `[to, tx, ty, th, tw, class logits]`, raw; the decoder applies
//!   `pc = sigmoid(to)`, `bx = (col + sigmoid(tx)) / S`,
//!   `bh = anchor_h exp(th)` and a softmax over the classes, scores a box
//!   `pc * p(class)` and keeps scores `>= 0.6` (the course's assignment)
//!   before non-max suppression at 0.5 ([`grid`]).
//! - The loss ([`YoloLoss`]) is YOLO v1's weighted sum of coordinate,
//!   object, no-object and class terms (`lambda_coord = 5`,
//!   `lambda_noobj = 0.5`) on YOLO v2's anchor parameterisation, with a
//!   logistic loss on `pc` and softmax cross-entropy on the classes
//!   ([`loss`]).
//! - Anchors come from k-means over the training boxes' shapes with
//!   `1 - IoU` as the distance, as in YOLO v2 ([`kmeans_anchors`]).
//! - A generated network's output is checked against its grid at compile
//!   time by [`assert_grid`].
//! - [`voc_map`]: PASCAL VOC's AP at IoU 0.5 with all-point interpolation;
//!   [`coco_map`]: COCO's AP over IoU 0.50:0.05:0.95 with 101 recall
//!   points, equal to pycocotools' ([`ap`]).
//!
//! ```
//! use cnn_runtime::detect::{iou, nms, Anchor, BBox, Decode, Grid, Object};
//!
//! // Two boxes of the same size, one shifted by half its width: IoU 1/3.
//! let a = BBox::new(0.5, 0.5, 0.2, 0.2);
//! let b = BBox::new(0.6, 0.5, 0.2, 0.2);
//! assert!((iou(&a, &b) - 1.0 / 3.0).abs() < 1e-6);
//!
//! // A 3x3 grid (the course's example), two anchors, three classes.
//! let anchors = vec![Anchor { h: 0.4, w: 0.2 }, Anchor { h: 0.2, w: 0.4 }];
//! let grid = Grid::new(3, anchors, 3)?;
//! assert_eq!(grid.shape(), [3, 3, 16]); // A(5 + K) = 2 * (5 + 3)
//!
//! // A wide car in the middle cell goes to the wide anchor.
//! let car = Object { bbox: BBox::new(0.5, 0.5, 0.2, 0.4), class: 2 };
//! let target = grid.encode(&[car])?;
//! assert_eq!(grid.assign(&car.bbox)?, (1, 1, 1));
//! assert_eq!(grid.decode_target(&target)?, vec![car]);
//!
//! // A network's raw output: confident about that one anchor only.
//! let mut output = vec![-10.0; grid.len()];
//! let at = grid.index(1, 1, 1, 0);
//! output[at..at + 5].copy_from_slice(&[10.0, 0.0, 0.0, 0.0, 0.0]);
//! output[at + 5 + 2] = 10.0;
//! let found = grid.decode(&output, &Decode::COURSE)?;
//! assert_eq!(found.len(), 1);
//! assert_eq!(found[0].class, 2);
//! assert!(iou(&found[0].bbox, &car.bbox) > 0.99);
//! assert_eq!(nms(&found, 0.6, 0.5)?, found);
//! # Ok::<(), cnn_runtime::Error>(())
//! ```

pub mod anchors;
pub mod ap;
pub mod boxes;
pub mod check;
pub mod grid;
pub mod loss;
pub mod nms;

#[cfg(test)]
mod fixtures_tests;
#[cfg(test)]
mod tests;

pub use anchors::{kmeans_anchors, AnchorFit};
pub use ap::{
    average_precision, coco_iou_thresholds, coco_map, coco_recall_points, voc_map, CocoReport,
    VocReport, COCO_MAX_DETECTIONS,
};
pub use boxes::{iou, iou_corners, shape_iou, BBox, Corners, Detection, Object};
pub use check::{assert_grid, check_grid, grid_channels, GridMismatch};
pub use grid::{Anchor, Decode, Grid, MAX_LOG_SIZE};
pub use loss::YoloLoss;
pub use nms::{nms, soft_nms, suppress};
