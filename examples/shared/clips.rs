//! What `clips` does, on any number of clips, so that
//! `tests/clips_example.rs` can run it on a few: the moving-digit clips,
//! the 3D network, training through `Model::fit` on fresh clips every
//! epoch, the test accuracy and the picture.
//!
//! A clip is 16 frames of a 32x32 field: one real MNIST digit, shrunk to
//! 20x20, slides across it in a straight line to the right, the left,
//! down or up, at 0.5 to 0.75 pixel per frame (drawn per clip, placed to a
//! fraction of a pixel by bilinear interpolation), from a start drawn so
//! that it stays in the field. Its class is `4 * digit + direction`: 40
//! classes, which neither one frame (the direction) nor the motion alone
//! (the digit) tells.
//!
//! Training clips come from MNIST's training digits, validation clips
//! from the training digits with another seed, test clips from the test
//! digits; clip `i` of a seed is the same on every run.

use std::path::{Path, PathBuf};

use cnn::data::LabelledImages;
use cnn::io::image::write_png_gray;
use cnn::prelude::*;
use cnn::rng::{splitmix64, Rng};

/// Frames per clip.
pub const FRAMES: usize = 16;
/// Side of the (square) field.
pub const SIDE: usize = 32;
/// Side of a digit's box in the field (MNIST's 28 shrunk; the ink fills
/// about 14 of it, as 20 of MNIST's 28).
pub const DIGIT: usize = 20;
/// The directions of motion, in class order.
pub const DIRECTIONS: [&str; 4] = ["right", "left", "down", "up"];
/// Ten digits times four directions.
pub const CLASSES: usize = 10 * DIRECTIONS.len();
/// Values in one clip.
pub const CLIP_LEN: usize = FRAMES * SIDE * SIDE;

network! {
    /// C3dSmall (the PyTorch peer's `c3d_train_b8` network): three 3x3x3
    /// convolutions of 16, 32 and 64 filters with batch norm and ReLU,
    /// 2x2x2 max pooling after the first two (16x32x32 -> 8x16x16 ->
    /// 4x8x8), global average pooling and 40 classes. A ReLU's 3x3x3
    /// windows see motion across three frames; the pooling halves time as
    /// well as space.
    pub struct C3dSmall {
        input: [16, 32, 32, 1],
        layers: [
            c1: Conv3d { filters: 16, kernel: 3, padding: 1 },
            b1: BatchNorm,
            Relu,
            MaxPool3d { size: 2 },                              // 8x16x16x16
            c2: Conv3d { filters: 32, kernel: 3, padding: 1 },
            b2: BatchNorm,
            Relu,
            MaxPool3d { size: 2 },                              // 4x8x8x32
            c3: Conv3d { filters: 64, kernel: 3, padding: 1 },
            b3: BatchNorm,
            Relu,
            GlobalAvgPool,                                      // 64
            fc: Dense { units: 40 },
            Softmax,
        ],
    }
}

const _: () = assert!(C3dSmall::OUTPUT_SIZE == CLASSES);
const _: () = assert!(C3dSmall::INPUT_SHAPE[0] * C3dSmall::INPUT_SHAPE[1] == FRAMES * SIDE);

/// How clip `i` moves: which digit, where it starts, which way and how
/// fast.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Motion {
    /// Index of the digit in its MNIST set.
    pub digit: usize,
    /// Index into [`DIRECTIONS`].
    pub direction: usize,
    /// Pixels per frame.
    pub speed: f32,
    /// The digit's top-left corner in the first frame (row, column).
    pub start: (f32, f32),
}

impl Motion {
    /// The top-left corner in frame `t`.
    pub fn at(&self, t: usize) -> (f32, f32) {
        let d = self.speed * t as f32;
        let (y, x) = self.start;
        match self.direction {
            0 => (y, x + d),
            1 => (y, x - d),
            2 => (y + d, x),
            _ => (y - d, x),
        }
    }
}

/// A seeded, endless set of clips of the digits of one MNIST set.
#[derive(Clone)]
pub struct Clips<'a> {
    digits: &'a LabelledImages,
    seed: u64,
}

impl<'a> Clips<'a> {
    pub fn new(digits: &'a LabelledImages, seed: u64) -> Self {
        Clips { digits, seed }
    }

    /// Clip `i`'s motion (the same for the same seed and `i`).
    pub fn motion(&self, i: usize) -> Motion {
        let mut rng = Rng::new(splitmix64(self.seed ^ splitmix64(i as u64)));
        let digit = rng.below(self.digits.len());
        let direction = rng.below(DIRECTIONS.len());
        let speed = rng.uniform_in(0.5, 0.75);
        let room = (SIDE - DIGIT) as f32;
        let travel = speed * (FRAMES - 1) as f32;
        let across = rng.uniform_in(0.0, room);
        let along = rng.uniform_in(0.0, room - travel);
        // Moving left or up starts from the far side.
        let start = match direction {
            0 => (across, along),
            1 => (across, room - along),
            2 => (along, across),
            _ => (room - along, across),
        };
        Motion {
            digit,
            direction,
            speed,
            start,
        }
    }

    /// The class of clip `i`: `4 * digit + direction`.
    pub fn label(&self, i: usize) -> usize {
        let m = self.motion(i);
        usize::from(self.digits.labels[m.digit]) * DIRECTIONS.len() + m.direction
    }

    /// Draws clip `i` into `out` (`FRAMES x SIDE x SIDE`, values in 0..=1)
    /// and returns its class.
    pub fn draw(&self, i: usize, out: &mut [f32]) -> usize {
        let m = self.motion(i);
        let (h, w) = (self.digits.height, self.digits.width);
        let image = self.digits.image(m.digit).expect("the digit is in the set");
        let max = f32::from(self.digits.max_value);
        let pixel = |y: isize, x: isize| -> f32 {
            if y < 0 || x < 0 || y >= h as isize || x >= w as isize {
                0.0
            } else {
                f32::from(image[y as usize * w + x as usize]) / max
            }
        };
        // A field pixel's centre, in the digit's own pixels: shifted by the
        // corner, scaled from DIGIT to 28; then bilinear between the four
        // nearest digit pixels (zero outside the digit).
        let scale = h as f32 / DIGIT as f32;
        for (t, frame) in out.chunks_exact_mut(SIDE * SIDE).enumerate() {
            let (top, left) = m.at(t);
            for (p, v) in frame.iter_mut().enumerate() {
                let (fy, fx) = ((p / SIDE) as f32 + 0.5, (p % SIDE) as f32 + 0.5);
                let sy = (fy - top) * scale - 0.5;
                let sx = (fx - left) * scale - 0.5;
                let (y0, x0) = (sy.floor(), sx.floor());
                let (ay, ax) = (sy - y0, sx - x0);
                let (y0, x0) = (y0 as isize, x0 as isize);
                *v = (1.0 - ay) * ((1.0 - ax) * pixel(y0, x0) + ax * pixel(y0, x0 + 1))
                    + ay * ((1.0 - ax) * pixel(y0 + 1, x0) + ax * pixel(y0 + 1, x0 + 1));
            }
        }
        self.label(i)
    }

    /// Clips `start..start + n`, their values and their classes.
    pub fn batch(&self, start: usize, n: usize) -> (Vec<f32>, Vec<usize>) {
        let mut x = vec![0.0; n * CLIP_LEN];
        let labels = x
            .chunks_exact_mut(CLIP_LEN)
            .enumerate()
            .map(|(k, clip)| self.draw(start + k, clip))
            .collect();
        (x, labels)
    }

    /// Clips `start..start + n` as a data set (each clip `16 * 32` rows
    /// of 32 columns, as the network stores a volume).
    pub fn dataset(&self, start: usize, n: usize) -> Result<Dataset, cnn::Error> {
        let (x, labels) = self.batch(start, n);
        Dataset::new([FRAMES * SIDE, SIDE, 1], x, labels, CLASSES)
    }
}

/// How much the picture enlarges a frame.
const ZOOM: usize = 2;

/// Writes `rows` clips as a grey PNG, one clip per line, its 16 frames
/// from left to right.
pub fn write_picture(path: &Path, x: &[f32], rows: usize) -> Result<(), cnn::Error> {
    let clips = rows.min(x.len() / CLIP_LEN);
    let (tile, gap) = (SIDE * ZOOM, 2);
    let w = FRAMES * (tile + gap) + gap;
    let h = clips * (tile + 3 * gap) + gap;
    let mut grey = vec![0.35f32; w * h];
    for c in 0..clips {
        let y0 = gap + c * (tile + 3 * gap);
        for t in 0..FRAMES {
            let frame = &x[c * CLIP_LEN + t * SIDE * SIDE..][..SIDE * SIDE];
            let x0 = gap + t * (tile + gap);
            for y in 0..tile {
                for xx in 0..tile {
                    grey[(y0 + y) * w + x0 + xx] = frame[(y / ZOOM) * SIDE + xx / ZOOM];
                }
            }
        }
    }
    write_png_gray(path, w, h, &grey, false)
}

/// How to train and test.
#[derive(Clone, Debug)]
pub struct Plan {
    pub epochs: usize,
    /// Fresh clips per epoch.
    pub clips_per_epoch: usize,
    pub batch_size: usize,
    /// Adam's peak learning rate (warm-up, then cosine to 0).
    pub learning_rate: f32,
    pub seed: u64,
    /// History, checkpoint, curves, weights and the picture.
    pub out: PathBuf,
    /// Validation clips measured after every epoch.
    pub validation_clips: usize,
    /// Test clips measured at the end.
    pub test_clips: usize,
    /// The MNIST files.
    pub data: PathBuf,
    pub verbose: bool,
}

/// The test clips' seed: fixed, so every run is measured on the same
/// clips whatever `--seed` is.
pub const TEST_SEED: u64 = 2024;

/// What `run` measured.
#[allow(dead_code)] // the example prints these; its test reads them
pub struct Report {
    /// On the test clips.
    pub accuracy: f32,
    pub model: Model<C3dSmall>,
    /// Seconds of training.
    pub seconds: f64,
}

/// Loads MNIST, trains on fresh clips every epoch (validating after
/// each), tests, draws. Prints, last, `test accuracy: NN.NN%`.
pub fn run(plan: &Plan) -> Result<Report, cnn::Error> {
    let say = |s: String| {
        if plan.verbose {
            println!("{s}");
        }
    };
    std::fs::create_dir_all(&plan.out).map_err(|e| cnn::Error::io(&plan.out, e))?;
    let mnist = cnn::data::mnist::load(&plan.data)?;
    let seed = plan.seed;
    let train = Clips::new(&mnist.train, seed);
    let validation = Clips::new(&mnist.train, seed ^ 0x5EED).dataset(0, plan.validation_clips)?;
    let test = Clips::new(&mnist.test, TEST_SEED);
    say(C3dSmall::summary().to_string());
    say(format!(
        "training: {} epochs of {} fresh clips ({FRAMES} frames of {SIDE}x{SIDE}), batch {}, threads {}",
        plan.epochs,
        plan.clips_per_epoch,
        plan.batch_size,
        cnn::parallel::threads()
    ));
    let mut model = Model::compile(C3dSmall::new(seed), Adam::new(plan.learning_rate))
        .seed(seed)
        .setting("epochs", plan.epochs)
        .setting("clips_per_epoch", plan.clips_per_epoch);
    let steps_per_epoch = plan.clips_per_epoch.div_ceil(plan.batch_size);
    let total = plan.epochs * steps_per_epoch;
    let schedule =
        cnn::optim::WarmupCosine::new(plan.learning_rate, (total / 20).min(steps_per_epoch), total);
    let start = std::time::Instant::now();
    while model.epoch() < plan.epochs {
        let epoch = model.epoch() + 1;
        let data = train.dataset((epoch - 1) * plan.clips_per_epoch, plan.clips_per_epoch)?;
        let fit = Fit::epochs(epoch)
            .of(plan.epochs)
            .batch_size(plan.batch_size)
            .schedule(&schedule)
            .validation_data(&validation)
            .verbose(plan.verbose)
            .checkpoint(plan.out.join("clips_checkpoint.safetensors"))
            .csv_log(plan.out.join("history.csv"))
            .curves(
                plan.out.join("curves.svg"),
                "C3dSmall on moving-digit clips (accuracy)",
            );
        model.fit(&data, fit)?;
    }
    let seconds = start.elapsed().as_secs_f64();
    model
        .network()
        .save(plan.out.join("c3d_small.safetensors"))?;
    let test_data = test.dataset(0, plan.test_clips)?;
    let accuracy = model.evaluate(&test_data, 64)?.accuracy;
    let picture = plan.out.join("clips.png");
    write_picture(&picture, test_data.images(), 8)?;
    say(format!(
        "wrote {} (a test clip per line, its frames left to right)",
        picture.display()
    ));
    say(format!(
        "trained in {seconds:.0} s; {} test clips of MNIST's test digits",
        plan.test_clips
    ));
    say(format!("test accuracy: {:.2}%", 100.0 * accuracy));
    Ok(Report {
        accuracy,
        model,
        seconds,
    })
}
