//! Scenes of handwritten digits for detection: square grey pictures
//! (96x96 by default) holding 1 to 5 real MNIST digits each, every digit
//! scaled by a factor drawn in 0.5..2 (14 to 56 pixels), placed where its
//! box overlaps the boxes already placed by an IoU of at most 0.1, and
//! labelled with a box tight around its ink and its digit as the class.
//! A small data set on which a YOLO-style detector trains in minutes on a
//! CPU, the way MNIST is for classifiers.
//!
//! Training scenes are made from the training digits and test scenes from
//! the test digits ([`Scenes::train`], [`Scenes::test`]), so no test digit
//! is ever seen in training. Scene `i` of a seed is the same on every run,
//! platform and thread ([`Scenes::scene`] draws it from a generator keyed
//! by the seed and `i` alone), so a set needs no storage.
//!
//! How a digit is made: a random image of the set, resized by bilinear
//! interpolation (pixel centres aligned, as `align_corners = false`),
//! cropped to its ink (pixels of at least [`INK`]), pasted by taking the
//! larger of the picture's and the digit's value (white ink on black, as
//! MNIST). The box is the crop, so it touches the ink on all four sides.
//! A digit that finds no place in [`SceneConfig::tries`] draws is left out,
//! so a crowded scene may hold fewer digits than drawn, never none.
//!
//! [`Scene::write_png`] draws a scene, enlarged, with its boxes in a colour
//! per class and the class written in a small built-in font;
//! [`Scene::write_png_with`] and [`write_grid`] add a detector's boxes with
//! their class and score.
//!
//! ```
//! use cnn_runtime::data::scenes::{SceneConfig, Scenes};
//! use cnn_runtime::data::LabelledImages;
//! use cnn_runtime::detect::{Anchor, Grid};
//!
//! // Two 28x28 "digits": a filled square (class 0) and a bar (class 1).
//! let mut images = vec![0u8; 2 * 28 * 28];
//! for y in 6..22 {
//!     for x in 6..22 {
//!         images[y * 28 + x] = 255;
//!     }
//!     images[28 * 28 + y * 28 + 13] = 255;
//! }
//! let digits = LabelledImages {
//!     images,
//!     labels: vec![0, 1],
//!     height: 28,
//!     width: 28,
//!     max_value: 255,
//!     classes: 2,
//! };
//! let scenes = Scenes::new(&digits, SceneConfig::default(), 7)?;
//! let scene = scenes.scene(3);
//! assert_eq!(scene.pixels.len(), 96 * 96);
//! assert!((1..=5).contains(&scene.objects.len()));
//! // Scene 3 of seed 7 is the same scene every time.
//! assert_eq!(scenes.scene(3), scene);
//!
//! // A batch for a YOLO network: pixels and encoded grid volumes.
//! let anchors = vec![Anchor { h: 0.3, w: 0.3 }, Anchor { h: 0.3, w: 0.05 }];
//! let grid = Grid::new(12, anchors, 2)?;
//! let (mut x, mut target) = (vec![0.0; 2 * 96 * 96], vec![0.0; 2 * grid.len()]);
//! scenes.gather(&[3, 4], &grid, &mut x, &mut target)?;
//! assert_eq!(&x[..96 * 96], &scene.pixels[..]);
//! let found = grid.decode_target(&target[..grid.len()])?;
//! assert!(found.len() <= scene.objects.len()); // a shared cell and anchor drops one
//! # Ok::<(), cnn_runtime::Error>(())
//! ```

use super::mnist::Mnist;
use super::LabelledImages;
use crate::detect::{iou_corners, Corners, Detection, Grid, Object};
use crate::error::{Error, Result};
use crate::rng::{splitmix64, Rng};
use std::path::Path;

/// The value (0..=1) from which a pixel counts as ink.
pub const INK: f32 = 0.2;

/// How scenes are drawn.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SceneConfig {
    /// Side of the square picture, in pixels.
    pub size: usize,
    /// The fewest and most digits drawn per scene (inclusive).
    pub digits: (usize, usize),
    /// The range of the scale factor of a digit (MNIST's are 28x28).
    pub scale: (f32, f32),
    /// The largest IoU a digit's box may have with any other.
    pub max_iou: f32,
    /// How many positions a digit tries before it is left out.
    pub tries: usize,
}

impl Default for SceneConfig {
    /// 96x96, 1 to 5 digits, scaled 0.5 to 2, IoU at most 0.1, 100 tries.
    fn default() -> Self {
        SceneConfig {
            size: 96,
            digits: (1, 5),
            scale: (0.5, 2.0),
            max_iou: 0.1,
            tries: 100,
        }
    }
}

/// One picture and the digits on it.
#[derive(Clone, Debug, PartialEq)]
pub struct Scene {
    /// Side of the square picture.
    pub size: usize,
    /// `size * size` grey values in 0..=1, row-major (one NHWC example
    /// with one channel).
    pub pixels: Vec<f32>,
    /// The digits: boxes normalised to the picture, the digit as class.
    pub objects: Vec<Object>,
}

/// A seeded, endless set of scenes made from one set of digits.
#[derive(Clone, Debug)]
pub struct Scenes<'a> {
    digits: &'a LabelledImages,
    config: SceneConfig,
    seed: u64,
}

impl<'a> Scenes<'a> {
    /// Scenes from `digits` (any [`LabelledImages`]; the classes are its
    /// labels). A configuration in which a digit at the largest scale does
    /// not fit, or with an empty or reversed range, is an `Err`, and so is
    /// an empty set of digits.
    pub fn new(digits: &'a LabelledImages, config: SceneConfig, seed: u64) -> Result<Self> {
        let bad = |m: String| Err(Error::InvalidArgument(format!("scenes: {m}")));
        let (lo, hi) = config.scale;
        if digits.is_empty() || digits.height == 0 || digits.width == 0 {
            return bad("the set of digits is empty".into());
        }
        if !(lo > 0.0 && lo <= hi && hi.is_finite()) {
            return bad(format!(
                "the scale range ({lo}, {hi}) must be positive and in order"
            ));
        }
        if config.digits.0 == 0 || config.digits.0 > config.digits.1 {
            return bad(format!(
                "the digit count range {:?} must be in order and start at 1 or more",
                config.digits
            ));
        }
        let largest = (digits.height.max(digits.width) as f32 * hi).round() as usize;
        if largest > config.size {
            return bad(format!(
                "a {}x{} digit at scale {hi} is {largest} pixels, more than the {}-pixel picture",
                digits.height, digits.width, config.size
            ));
        }
        if !(0.0..=1.0).contains(&config.max_iou) || config.tries == 0 {
            return bad(format!(
                "max_iou {} must be in 0..=1 and tries {} at least 1",
                config.max_iou, config.tries
            ));
        }
        Ok(Scenes {
            digits,
            config,
            seed,
        })
    }

    /// Training scenes: from MNIST's 60,000 training digits.
    pub fn train(mnist: &'a Mnist, config: SceneConfig, seed: u64) -> Result<Self> {
        Scenes::new(&mnist.train, config, seed)
    }

    /// Test scenes: from MNIST's 10,000 test digits.
    pub fn test(mnist: &'a Mnist, config: SceneConfig, seed: u64) -> Result<Self> {
        Scenes::new(&mnist.test, config, seed)
    }

    /// How scenes are drawn.
    pub fn config(&self) -> &SceneConfig {
        &self.config
    }

    /// The number of classes (10 for MNIST).
    pub fn classes(&self) -> usize {
        self.digits.classes
    }

    /// Scene `index`: the same for a seed and index every time.
    pub fn scene(&self, index: usize) -> Scene {
        let c = &self.config;
        let mut rng = Rng::new(splitmix64(self.seed ^ splitmix64(index as u64 ^ 0x5CE7E)));
        let n = size_of(c.size);
        let mut pixels = vec![0.0f32; n];
        let mut objects = Vec::new();
        let mut placed: Vec<Corners> = Vec::new();
        let count = c.digits.0 + rng.below(c.digits.1 - c.digits.0 + 1);
        let mut patch = Vec::new();
        for _ in 0..count {
            let i = rng.below(self.digits.len());
            let scale = rng.uniform_in(c.scale.0, c.scale.1);
            let Some((ph, pw)) = self.digit_patch(i, scale, &mut patch) else {
                continue; // a blank image: no ink to box
            };
            let s = c.size as f32;
            for _ in 0..c.tries {
                let y = rng.below(c.size - ph + 1);
                let x = rng.below(c.size - pw + 1);
                let corners = Corners::new(
                    x as f32 / s,
                    y as f32 / s,
                    (x + pw) as f32 / s,
                    (y + ph) as f32 / s,
                );
                if placed.iter().any(|p| iou_corners(p, &corners) > c.max_iou) {
                    continue;
                }
                for r in 0..ph {
                    let row = &mut pixels[(y + r) * c.size + x..][..pw];
                    for (dst, &v) in row.iter_mut().zip(&patch[r * pw..(r + 1) * pw]) {
                        *dst = dst.max(v);
                    }
                }
                placed.push(corners);
                objects.push(Object {
                    bbox: corners.bbox(),
                    class: self.digits.labels[i] as usize,
                });
                break;
            }
        }
        Scene {
            size: c.size,
            pixels,
            objects,
        }
    }

    /// Digit `i` resized by `scale` and cropped to its ink, into `patch`;
    /// its height and width, or `None` if it has no ink.
    fn digit_patch(&self, i: usize, scale: f32, patch: &mut Vec<f32>) -> Option<(usize, usize)> {
        let d = self.digits;
        let (h, w) = (d.height, d.width);
        let oh = ((h as f32 * scale).round() as usize).max(1);
        let ow = ((w as f32 * scale).round() as usize).max(1);
        let src = d.image(i)?;
        let max = d.max_value.max(1) as f32;
        let at = |y: usize, x: usize| src[y * w + x] as f32 / max;
        let mut big = vec![0.0f32; oh * ow];
        // Bilinear, pixel centres aligned: source point (o + 0.5) / s - 0.5,
        // clamped to the image.
        let (sy, sx) = (h as f32 / oh as f32, w as f32 / ow as f32);
        for oy in 0..oh {
            let fy = ((oy as f32 + 0.5) * sy - 0.5).clamp(0.0, (h - 1) as f32);
            let (y0, ty) = (fy as usize, fy.fract());
            let y1 = (y0 + 1).min(h - 1);
            for ox in 0..ow {
                let fx = ((ox as f32 + 0.5) * sx - 0.5).clamp(0.0, (w - 1) as f32);
                let (x0, tx) = (fx as usize, fx.fract());
                let x1 = (x0 + 1).min(w - 1);
                let top = at(y0, x0) * (1.0 - tx) + at(y0, x1) * tx;
                let bottom = at(y1, x0) * (1.0 - tx) + at(y1, x1) * tx;
                big[oy * ow + ox] = top * (1.0 - ty) + bottom * ty;
            }
        }
        let ink = |y: usize, x: usize| big[y * ow + x] >= INK;
        let rows: Vec<usize> = (0..oh).filter(|&y| (0..ow).any(|x| ink(y, x))).collect();
        let cols: Vec<usize> = (0..ow).filter(|&x| (0..oh).any(|y| ink(y, x))).collect();
        let (&y0, &y1) = (rows.first()?, rows.last()?);
        let (&x0, &x1) = (cols.first()?, cols.last()?);
        let (ph, pw) = (y1 - y0 + 1, x1 - x0 + 1);
        patch.clear();
        for y in y0..=y1 {
            patch.extend_from_slice(&big[y * ow + x0..y * ow + x0 + pw]);
        }
        Some((ph, pw))
    }

    /// Scenes `indices` as a network's batch: `x` gets their pixels
    /// (`[n, size, size, 1]`) and `target` their [`Grid::encode`] volumes
    /// (`[n, S, S, A(5 + K)]`); digits that lose their cell and anchor to
    /// another are left out of the target, as `encode` does.
    pub fn gather(
        &self,
        indices: &[usize],
        grid: &Grid,
        x: &mut [f32],
        target: &mut [f32],
    ) -> Result<()> {
        let n = size_of(self.config.size);
        crate::error::check_len("scenes: x", x.len(), indices.len() * n)?;
        crate::error::check_len("scenes: target", target.len(), indices.len() * grid.len())?;
        if grid.classes() < self.classes() {
            return Err(Error::InvalidArgument(format!(
                "scenes: the grid has {} classes but the digits have {}",
                grid.classes(),
                self.classes()
            )));
        }
        for ((&i, xs), ts) in indices
            .iter()
            .zip(x.chunks_exact_mut(n))
            .zip(target.chunks_exact_mut(grid.len()))
        {
            let scene = self.scene(i);
            xs.copy_from_slice(&scene.pixels);
            grid.encode_into(&scene.objects, ts)?;
        }
        Ok(())
    }
}

fn size_of(side: usize) -> usize {
    side * side
}

/// Colours of the classes, RGB in 0..=1 (ten distinct hues).
const PALETTE: [[f32; 3]; 10] = [
    [0.90, 0.10, 0.10],
    [0.10, 0.80, 0.10],
    [0.20, 0.40, 1.00],
    [1.00, 0.85, 0.00],
    [0.90, 0.20, 0.90],
    [0.00, 0.85, 0.85],
    [1.00, 0.55, 0.00],
    [0.60, 0.40, 1.00],
    [0.55, 1.00, 0.55],
    [1.00, 0.60, 0.70],
];

/// Digits 0-9 in a 3x5 font, a row of 3 bits per line, top line first.
const FONT: [[u8; 5]; 10] = [
    [0b111, 0b101, 0b101, 0b101, 0b111],
    [0b010, 0b110, 0b010, 0b010, 0b111],
    [0b111, 0b001, 0b111, 0b100, 0b111],
    [0b111, 0b001, 0b111, 0b001, 0b111],
    [0b101, 0b101, 0b111, 0b001, 0b001],
    [0b111, 0b100, 0b111, 0b001, 0b111],
    [0b111, 0b100, 0b111, 0b101, 0b111],
    [0b111, 0b001, 0b010, 0b010, 0b010],
    [0b111, 0b101, 0b111, 0b101, 0b111],
    [0b111, 0b101, 0b111, 0b001, 0b111],
];

/// How much [`Scene::write_png`] enlarges a scene.
pub const ZOOM: usize = 4;

/// An RGB canvas being drawn on.
struct Canvas {
    side: usize,
    rgb: Vec<f32>,
}

impl Canvas {
    fn put(&mut self, x: usize, y: usize, colour: [f32; 3]) {
        if x < self.side && y < self.side {
            self.rgb[(y * self.side + x) * 3..][..3].copy_from_slice(&colour);
        }
    }

    /// A rectangle outline `thickness` pixels wide, inside the corners.
    fn rectangle(&mut self, c: &Corners, colour: [f32; 3], thickness: usize) {
        let s = self.side as f32;
        let px = |v: f32| (v * s).round().clamp(0.0, s) as usize;
        let (x1, y1, x2, y2) = (px(c.x1), px(c.y1), px(c.x2), px(c.y2));
        for t in 0..thickness {
            for x in x1..x2 {
                self.put(x, y1 + t, colour);
                self.put(x, (y2.max(1) - 1).saturating_sub(t), colour);
            }
            for y in y1..y2 {
                self.put(x1 + t, y, colour);
                self.put((x2.max(1) - 1).saturating_sub(t), y, colour);
            }
        }
    }

    /// The digits of `n` at `(x, y)` (top-left), each font pixel `scale`
    /// pixels, on a black plate so that they read over ink.
    fn label(&mut self, n: usize, x: usize, y: usize, colour: [f32; 3], scale: usize) {
        let text = n.to_string();
        let width = text.len() * 4 * scale + scale;
        for dy in 0..7 * scale {
            for dx in 0..width {
                self.put(x + dx, y + dy, [0.0; 3]);
            }
        }
        for (k, ch) in text.bytes().enumerate() {
            let glyph = FONT[(ch - b'0') as usize];
            for (row, bits) in glyph.iter().enumerate() {
                for col in 0..3 {
                    if bits & (0b100 >> col) == 0 {
                        continue;
                    }
                    for sy in 0..scale {
                        for sx in 0..scale {
                            let gx = x + scale + (k * 4 + col) * scale + sx;
                            let gy = y + scale + row * scale + sy;
                            self.put(gx, gy, colour);
                        }
                    }
                }
            }
        }
    }
}

impl Scene {
    /// Writes the scene enlarged [`ZOOM`] times as an RGB PNG, each digit's
    /// box in its class's colour with the class written at its top-left.
    pub fn write_png(&self, path: &Path) -> Result<()> {
        self.write_png_with(path, &[])
    }

    /// As [`Scene::write_png`], with `detections` drawn too: in white,
    /// thinner, their class at their bottom-left followed in grey by their
    /// score in percent (two digits: `93` is 0.93 to 0.94). A picture to
    /// compare a detector's boxes with the truth.
    pub fn write_png_with(&self, path: &Path, detections: &[Detection]) -> Result<()> {
        let (side, rgb) = self.render(detections)?;
        crate::io::image::write_png_rgb(path, side, side, &rgb, false)
    }

    /// What [`Scene::write_png_with`] draws: the side of the enlarged
    /// picture and its RGB values in 0..=1.
    pub fn render(&self, detections: &[Detection]) -> Result<(usize, Vec<f32>)> {
        let side = self.size * ZOOM;
        crate::error::check_len("scene: pixels", self.pixels.len(), size_of(self.size))?;
        let mut canvas = Canvas {
            side,
            rgb: vec![0.0; side * side * 3],
        };
        for y in 0..side {
            for x in 0..side {
                let v = self.pixels[(y / ZOOM) * self.size + x / ZOOM];
                canvas.put(x, y, [v; 3]);
            }
        }
        for o in &self.objects {
            let colour = PALETTE[o.class % PALETTE.len()];
            let c = o.bbox.corners();
            canvas.rectangle(&c, colour, 2);
            let s = side as f32;
            let (x, y) = ((c.x1 * s).max(0.0) as usize, (c.y1 * s).max(0.0) as usize);
            canvas.label(o.class, x + 2, y + 2, colour, 2);
        }
        for d in detections {
            let c = d.bbox.corners();
            canvas.rectangle(&c, [1.0; 3], 1);
            let s = side as f32;
            let x = (c.x1 * s).clamp(0.0, s) as usize;
            let y = ((c.y2 * s).clamp(0.0, s) as usize).saturating_sub(8);
            canvas.label(d.class, x + 1, y, [1.0; 3], 1);
            // The score in percent, truncated to two digits, in grey
            // after the class.
            let percent = ((d.score.clamp(0.0, 1.0) * 100.0) as usize).min(99);
            canvas.label(percent, x + 6, y, [0.7; 3], 1);
        }
        Ok((side, canvas.rgb))
    }
}

/// Writes scenes, each with its detections, as one PNG: a grid of `cols`
/// columns of [`Scene::render`]s, 4 grey pixels apart. Every scene must
/// have the same size.
pub fn write_grid(path: &Path, scenes: &[(Scene, Vec<Detection>)], cols: usize) -> Result<()> {
    let Some((first, _)) = scenes.first() else {
        return Err(Error::InvalidArgument(
            "scenes grid: no scene to draw".into(),
        ));
    };
    let cols = cols.clamp(1, scenes.len());
    let rows = scenes.len().div_ceil(cols);
    let (tile, gap) = (first.size * ZOOM, 4);
    let (w, h) = (cols * (tile + gap) + gap, rows * (tile + gap) + gap);
    let mut rgb = vec![0.5f32; w * h * 3];
    for (k, (scene, dets)) in scenes.iter().enumerate() {
        if scene.size != first.size {
            return Err(Error::InvalidArgument(format!(
                "scenes grid: scene {k} is {0}x{0}, not {1}x{1} like the first",
                scene.size, first.size
            )));
        }
        let (_, pic) = scene.render(dets)?;
        let (x0, y0) = (
            gap + (k % cols) * (tile + gap),
            gap + (k / cols) * (tile + gap),
        );
        for r in 0..tile {
            let dst = ((y0 + r) * w + x0) * 3;
            rgb[dst..dst + tile * 3].copy_from_slice(&pic[r * tile * 3..(r + 1) * tile * 3]);
        }
    }
    crate::io::image::write_png_rgb(path, w, h, &rgb, false)
}

#[cfg(test)]
#[path = "scenes_tests.rs"]
mod tests;
