//! Boxes in the course's convention: a centre `(bx, by)` and a height and
//! width `(bh, bw)`, all normalised to the picture (top-left `(0, 0)`,
//! bottom-right `(1, 1)`), with the corner form `(x1, y1, x2, y2)` that
//! intersections are computed in, and intersection over union. Coordinates
//! are continuous, so a box's width is `x2 - x1` (no `+ 1` as in the
//! pixel-counting PASCAL VOC devkit): torchvision's `box_iou` and COCO's
//! evaluation compute it the same way.

use crate::error::{Error, Result};

/// A box as the course writes it: centre `(bx, by)`, height `bh` and width
/// `bw`, normalised to the picture (`x` grows to the right, `y` downwards).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BBox {
    /// The centre's horizontal coordinate.
    pub bx: f32,
    /// The centre's vertical coordinate.
    pub by: f32,
    /// The height.
    pub bh: f32,
    /// The width.
    pub bw: f32,
}

/// A box by its corners: `(x1, y1)` top-left and `(x2, y2)` bottom-right.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Corners {
    /// Left edge.
    pub x1: f32,
    /// Top edge.
    pub y1: f32,
    /// Right edge.
    pub x2: f32,
    /// Bottom edge.
    pub y2: f32,
}

/// A labelled object: a true box and its class (a target, a ground truth).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Object {
    /// Where it is.
    pub bbox: BBox,
    /// Its class, `0..classes`.
    pub class: usize,
}

/// A scored box: what a detector outputs.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Detection {
    /// Where the detector puts the object.
    pub bbox: BBox,
    /// How sure it is (in the YOLO decoder, `pc` times the class
    /// probability).
    pub score: f32,
    /// The class it says.
    pub class: usize,
}

impl BBox {
    /// A box from its centre, height and width.
    pub const fn new(bx: f32, by: f32, bh: f32, bw: f32) -> Self {
        BBox { bx, by, bh, bw }
    }

    /// The corner form: `x1 = bx - bw / 2`, `y1 = by - bh / 2`, and so on.
    pub fn corners(&self) -> Corners {
        Corners {
            x1: self.bx - self.bw / 2.0,
            y1: self.by - self.bh / 2.0,
            x2: self.bx + self.bw / 2.0,
            y2: self.by + self.bh / 2.0,
        }
    }

    /// The area `bh * bw`.
    pub fn area(&self) -> f32 {
        self.bh * self.bw
    }

    /// Whether every coordinate is finite and the height and width are
    /// not negative.
    pub fn is_valid(&self) -> bool {
        [self.bx, self.by, self.bh, self.bw]
            .iter()
            .all(|v| v.is_finite())
            && self.bh >= 0.0
            && self.bw >= 0.0
    }

    /// `Ok(self)` if [`BBox::is_valid`], else an [`Error::InvalidArgument`]
    /// that names `what`.
    pub fn checked(self, what: &str) -> Result<Self> {
        if self.is_valid() {
            Ok(self)
        } else {
            Err(Error::InvalidArgument(format!(
                "{what}: box {self:?} must have finite coordinates and a height and width >= 0"
            )))
        }
    }
}

impl Corners {
    /// A box from its corners.
    pub const fn new(x1: f32, y1: f32, x2: f32, y2: f32) -> Self {
        Corners { x1, y1, x2, y2 }
    }

    /// The course's form: centre, height, width.
    pub fn bbox(&self) -> BBox {
        BBox {
            bx: (self.x1 + self.x2) / 2.0,
            by: (self.y1 + self.y2) / 2.0,
            bh: self.y2 - self.y1,
            bw: self.x2 - self.x1,
        }
    }

    /// The area, 0 for a box whose corners are the wrong way round.
    pub fn area(&self) -> f32 {
        (self.x2 - self.x1).max(0.0) * (self.y2 - self.y1).max(0.0)
    }

    /// The corners multiplied by a picture's size, to pixels
    /// (`x` by `width`, `y` by `height`), as the course's `scale_boxes`.
    pub fn scaled(&self, height: f32, width: f32) -> Corners {
        Corners {
            x1: self.x1 * width,
            y1: self.y1 * height,
            x2: self.x2 * width,
            y2: self.y2 * height,
        }
    }
}

/// Intersection over union of two boxes in corner form: the area of their
/// intersection over the area of their union, 0 when they do not meet or
/// when both are empty (torchvision gives NaN for two empty boxes).
pub fn iou_corners(a: &Corners, b: &Corners) -> f32 {
    let iw = (a.x2.min(b.x2) - a.x1.max(b.x1)).max(0.0);
    let ih = (a.y2.min(b.y2) - a.y1.max(b.y1)).max(0.0);
    let inter = iw * ih;
    let union = a.area() + b.area() - inter;
    if union > 0.0 {
        inter / union
    } else {
        0.0
    }
}

/// Intersection over union of two boxes (see [`iou_corners`]).
pub fn iou(a: &BBox, b: &BBox) -> f32 {
    iou_corners(&a.corners(), &b.corners())
}

/// The IoU of two shapes `(h, w)` placed on the same centre:
/// `min(h) min(w) / (h1 w1 + h2 w2 - min(h) min(w))`. This is how an
/// object picks its anchor, and the k-means distance is `1 -` it.
pub fn shape_iou((h1, w1): (f32, f32), (h2, w2): (f32, f32)) -> f32 {
    let inter = h1.min(h2).max(0.0) * w1.min(w2).max(0.0);
    let union = h1.max(0.0) * w1.max(0.0) + h2.max(0.0) * w2.max(0.0) - inter;
    if union > 0.0 {
        inter / union
    } else {
        0.0
    }
}
