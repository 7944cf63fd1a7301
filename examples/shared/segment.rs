//! What `segment_digits` does, on any number of scenes, so that
//! `tests/segment_example.rs` can run it on a few: the scenes and their
//! label maps, the U-Net, training through `Model::fit` with the
//! per-pixel cross-entropy, the intersection over union per class and
//! the picture.
//!
//! A scene is 64x64: one to three real MNIST digits (scaled 1-1.8x,
//! placed by `cnn::data::scenes` with boxes that do not overlap) laid over
//! a window of one of the repository's grey photographs (`assets/`: the
//! brick and gravel textures, the cameraman and the coins), at full or
//! half size, flipped at random, its brightness and contrast drawn per
//! scene, each digit in a grey drawn per digit. A pixel's label is the
//! digit whose ink covers it (the digit's own value above 0.5) or
//! background (class 10). The digits are not always brighter than the
//! background, so a threshold on the input does not find them: `run`
//! reports the best single threshold's IoU beside the network's.
//!
//! Training scenes come from MNIST's training digits, validation scenes
//! from the training digits with another seed, test scenes from the test
//! digits; each epoch trains on scenes never seen before (the data's
//! augmentation, as in `detect_digits`), and scene `i` of a seed is the
//! same on every run.

use std::path::{Path, PathBuf};

use cnn::data::scenes::{SceneConfig, Scenes};
use cnn::io::image::{read_png, write_png_rgb};
use cnn::ndarray::ArrayView4;
use cnn::prelude::*;
use cnn::rng::{splitmix64, Rng};

/// Side of a scene.
pub const SIDE: usize = 64;
/// Ten digits and the background.
pub const CLASSES: usize = 11;
/// The background's class; a digit's class is the digit.
pub const BACKGROUND: usize = 10;
/// A digit's value (its MNIST grey, resized, in 0..=1) from which it
/// covers a pixel.
pub const INK: f32 = 0.5;

network! {
    /// Two 3x3 convolutions, each with batch norm and ReLU: a U-Net level.
    block Twice(filters) = [
        a: Conv2d { filters: filters, kernel: 3, padding: same, bias: false },
        a_bn: BatchNorm,
        Relu,
        b: Conv2d { filters: filters, kernel: 3, padding: same, bias: false },
        b_bn: BatchNorm,
        Relu,
    ];

    /// A U-Net (Ronneberger et al. 2015) for 64x64 scenes: three 2x2 max
    /// pools down to 8x8 (a receptive field of 68 pixels, a whole digit),
    /// three 2x2 stride-2 transposed convolutions back up, and at each
    /// size the encoder's map concatenated to the decoder's (a `Concat`
    /// whose first branch is the identity); a softmax over 11 classes at
    /// every pixel.
    pub struct UNet {
        input: [64, 64, 1],
        layers: [
            enc1: Twice { filters: 16 },                                  // 64x64x16
            skip1: Concat { branches: [[], [
                MaxPool2d { size: 2 },                                    // 32x32x16
                enc2: Twice { filters: 32 },                              // 32x32x32
                skip2: Concat { branches: [[], [
                    MaxPool2d { size: 2 },                                // 16x16x32
                    enc3: Twice { filters: 64 },                          // 16x16x64
                    skip3: Concat { branches: [[], [
                        MaxPool2d { size: 2 },                            // 8x8x64
                        bottom: Twice { filters: 128 },                   // 8x8x128
                        up3: ConvTranspose2d { filters: 64, kernel: 2, stride: 2 },  // 16x16x64
                    ]] },                                                 // 16x16x128
                    dec3: Twice { filters: 64 },
                    up2: ConvTranspose2d { filters: 32, kernel: 2, stride: 2 },      // 32x32x32
                ]] },                                                     // 32x32x64
                dec2: Twice { filters: 32 },
                up1: ConvTranspose2d { filters: 16, kernel: 2, stride: 2 },          // 64x64x16
            ]] },                                                         // 64x64x32
            dec1: Twice { filters: 16 },
            classes: Conv2d { filters: 11, kernel: 1 },                   // 64x64x11
            Softmax,
        ],
    }
}

const _: () = assert!(UNet::OUTPUT_SIZE == SIDE * SIDE * CLASSES);

/// Where the digits go: one to three, scaled 1-1.8x (a 28x28 MNIST image
/// becomes 28 to 50 pixels), their boxes apart, so every inked pixel lies
/// in one box.
pub fn scene_config() -> SceneConfig {
    SceneConfig {
        size: SIDE,
        digits: (1, 3),
        scale: (1.0, 1.8),
        max_iou: 0.0,
        tries: 100,
    }
}

/// The grey photographs the backgrounds are cut from.
pub const TEXTURES: [&str; 4] = ["brick.png", "gravel.png", "camera.png", "coins.png"];

/// A grey photograph: `height x width` values in 0..=1.
pub struct Texture {
    pub height: usize,
    pub width: usize,
    pub grey: Vec<f32>,
}

/// The [`TEXTURES`] from `dir` (the repository's `assets/`).
pub fn load_textures(dir: &Path) -> Result<Vec<Texture>, cnn::Error> {
    TEXTURES
        .iter()
        .map(|name| {
            let image = read_png(&dir.join(name))?;
            let grey = if image.channels == 1 {
                image.data
            } else {
                let rgb = image.data.chunks_exact(image.channels);
                rgb.map(|p| p.iter().take(3).sum::<f32>() / 3.0).collect()
            };
            Ok(Texture {
                height: image.height,
                width: image.width,
                grey,
            })
        })
        .collect()
}

/// The repository's `assets/`.
pub fn assets_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("assets")
}

/// A seeded, endless set of scenes with their label maps.
pub struct LabelledScenes<'a> {
    digits: Scenes<'a>,
    textures: &'a [Texture],
    seed: u64,
}

impl<'a> LabelledScenes<'a> {
    pub fn new(digits: Scenes<'a>, textures: &'a [Texture], seed: u64) -> Self {
        LabelledScenes {
            digits,
            textures,
            seed,
        }
    }

    /// Scene `index` into `x` (`SIDE * SIDE` pixels) and `labels` (a class
    /// per pixel).
    pub fn draw(&self, index: usize, x: &mut [f32], labels: &mut [usize]) {
        let scene = self.digits.scene(index);
        let mut rng = Rng::new(splitmix64(self.seed ^ splitmix64(index as u64 ^ 0x7E47)));
        let level = self.background(&mut rng, x);
        // Each digit's grey: at least 0.25 above the background's mean
        // level, but the texture's bright parts may outshine it.
        let greys: Vec<f32> = scene
            .objects
            .iter()
            .map(|_| rng.uniform_in((level + 0.25).min(0.95), 1.0))
            .collect();
        labels.fill(BACKGROUND);
        let s = SIDE as f32;
        for (o, &grey) in scene.objects.iter().zip(&greys) {
            // The box's corners are whole pixels over SIDE (the scenes
            // place digits at whole pixels), so rounding gives them back.
            let c = o.bbox.corners();
            let px = |v: f32| ((v * s).round().max(0.0) as usize).min(SIDE);
            for y in px(c.y1)..px(c.y2) {
                for xx in px(c.x1)..px(c.x2) {
                    let p = y * SIDE + xx;
                    let a = scene.pixels[p];
                    x[p] = x[p] * (1.0 - a) + grey * a;
                    if a > INK {
                        labels[p] = o.class;
                    }
                }
            }
        }
    }

    /// A window of a texture into `x`, its brightness and contrast drawn
    /// here: the window's mean becomes the returned level and its
    /// standard deviation the drawn contrast.
    fn background(&self, rng: &mut Rng, x: &mut [f32]) -> f32 {
        let k = rng.below(self.textures.len());
        let t = &self.textures[k];
        // Full size or half (every other pixel of a window twice as big).
        let step = 1 + rng.below(2);
        let span = SIDE * step;
        let y0 = rng.below(t.height - span + 1);
        let x0 = rng.below(t.width - span + 1);
        let (flip_y, flip_x, transpose) = (rng.below(2) == 1, rng.below(2) == 1, rng.below(2) == 1);
        for y in 0..SIDE {
            for xx in 0..SIDE {
                let (mut r, mut c) = if transpose { (xx, y) } else { (y, xx) };
                if flip_y {
                    r = SIDE - 1 - r;
                }
                if flip_x {
                    c = SIDE - 1 - c;
                }
                x[y * SIDE + xx] = t.grey[(y0 + r * step) * t.width + x0 + c * step];
            }
        }
        let n = (SIDE * SIDE) as f32;
        let mean = x.iter().sum::<f32>() / n;
        let std = (x.iter().map(|v| (v - mean) * (v - mean)).sum::<f32>() / n)
            .sqrt()
            .max(1e-3);
        let level = rng.uniform_in(0.05, 0.6);
        let contrast = rng.uniform_in(0.05, 0.25);
        for v in x.iter_mut() {
            *v = (level + contrast * (*v - mean) / std).clamp(0.0, 1.0);
        }
        level
    }

    /// Scenes `first..first + n` as pixels and label maps.
    pub fn batch(&self, first: usize, n: usize) -> (Vec<f32>, Vec<usize>) {
        let per = SIDE * SIDE;
        let (mut x, mut labels) = (vec![0.0; n * per], vec![0; n * per]);
        for (i, (xs, ls)) in x
            .chunks_exact_mut(per)
            .zip(labels.chunks_exact_mut(per))
            .enumerate()
        {
            self.draw(first + i, xs, ls);
        }
        (x, labels)
    }

    /// Scenes `first..first + n` as a data set of label maps.
    pub fn dataset(&self, first: usize, n: usize) -> Result<Dataset, cnn::Error> {
        let (x, labels) = self.batch(first, n);
        Dataset::with_label_maps([SIDE, SIDE, 1], x, labels, SIDE * SIDE, CLASSES)
    }
}

/// Pixels counted per class: predicted, labelled, and both.
#[derive(Clone, Debug, Default)]
pub struct Tally {
    pub predicted: [u64; CLASSES],
    pub labelled: [u64; CLASSES],
    pub both: [u64; CLASSES],
}

impl Tally {
    /// Adds the predicted classes `predicted` against `labels`.
    pub fn add(&mut self, predicted: &[usize], labels: &[usize]) {
        for (&p, &l) in predicted.iter().zip(labels) {
            self.predicted[p] += 1;
            self.labelled[l] += 1;
            if p == l {
                self.both[l] += 1;
            }
        }
    }

    /// Each class's intersection over union (`None` for a class neither
    /// predicted nor labelled).
    pub fn iou(&self) -> [Option<f64>; CLASSES] {
        std::array::from_fn(|c| {
            let union = self.predicted[c] + self.labelled[c] - self.both[c];
            (union > 0).then(|| self.both[c] as f64 / union as f64)
        })
    }

    /// The mean of the classes' IoU (those that occur).
    pub fn mean_iou(&self) -> f64 {
        let ious: Vec<f64> = self.iou().into_iter().flatten().collect();
        ious.iter().sum::<f64>() / ious.len().max(1) as f64
    }
}

/// The most probable class of every pixel of `x` (`n` scenes), in
/// batches of 64.
pub fn predict_labels(net: &UNet, x: &[f32]) -> Result<Vec<usize>, cnn::Error> {
    let per = SIDE * SIDE;
    let mut out = Vec::with_capacity(x.len());
    for chunk in x.chunks(64 * per) {
        let n = chunk.len() / per;
        let view = ArrayView4::from_shape((n, SIDE, SIDE, 1), chunk)
            .map_err(|e| cnn::Error::InvalidArgument(e.to_string()))?;
        let p = net.predict(view)?;
        let p = p.as_slice().unwrap_or(&[]);
        out.extend(p.chunks_exact(CLASSES).map(|row| {
            (0..CLASSES)
                .max_by(|&a, &b| row[a].total_cmp(&row[b]))
                .unwrap_or(BACKGROUND)
        }));
    }
    Ok(out)
}

/// The best a single threshold on the pixels does at telling ink from
/// background: the highest IoU of `pixel > t` with the inked pixels over
/// `t` in 0.05, 0.10, .., 0.95, and that `t`.
pub fn best_threshold(x: &[f32], labels: &[usize]) -> (f64, f32) {
    (1..20)
        .map(|k| {
            let t = k as f32 * 0.05;
            let (mut both, mut either) = (0u64, 0u64);
            for (&v, &l) in x.iter().zip(labels) {
                let (p, ink) = (v > t, l != BACKGROUND);
                both += u64::from(p && ink);
                either += u64::from(p || ink);
            }
            (both as f64 / either.max(1) as f64, t)
        })
        .fold((0.0, 0.0), |best, c| if c.0 > best.0 { c } else { best })
}

/// Colours of the digits, RGB in 0..=1 (those of `cnn::data::scenes`'
/// boxes).
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

/// How much the picture enlarges a scene.
const ZOOM: usize = 2;

/// Writes `rows` scenes as a PNG, each as three tiles: the scene, the
/// predicted labels and the true ones (a digit's pixels in its class's
/// colour over the scene darkened), two such triples per line.
pub fn write_picture(
    path: &Path,
    x: &[f32],
    predicted: &[usize],
    labels: &[usize],
    rows: usize,
) -> Result<(), cnn::Error> {
    let per = SIDE * SIDE;
    let scenes = rows.min(x.len() / per);
    let (tile, gap) = (SIDE * ZOOM, 4);
    let per_line = 2;
    let lines = scenes.div_ceil(per_line);
    let triple = 3 * (tile + gap) + 2 * gap;
    let (w, h) = (per_line * triple + gap, lines * (tile + gap) + gap);
    let mut rgb = vec![0.5f32; w * h * 3];
    for s in 0..scenes {
        let pixels = &x[s * per..][..per];
        let x0 = gap + (s % per_line) * triple;
        let y0 = gap + (s / per_line) * (tile + gap);
        for (k, map) in [None, Some(predicted), Some(labels)]
            .into_iter()
            .enumerate()
        {
            let left = x0 + k * (tile + gap);
            for y in 0..tile {
                for xx in 0..tile {
                    let p = (y / ZOOM) * SIDE + xx / ZOOM;
                    let v = pixels[p];
                    let colour = match map.map(|m| m[s * per + p]) {
                        None => [v; 3],
                        Some(BACKGROUND) => [0.35 * v; 3],
                        Some(c) => PALETTE[c % PALETTE.len()],
                    };
                    let at = ((y0 + y) * w + left + xx) * 3;
                    rgb[at..at + 3].copy_from_slice(&colour);
                }
            }
        }
    }
    write_png_rgb(path, w, h, &rgb, false)
}

/// How to train and test.
#[derive(Clone, Debug)]
pub struct Plan {
    pub epochs: usize,
    /// Fresh scenes per epoch.
    pub scenes_per_epoch: usize,
    pub batch_size: usize,
    /// Adam's peak learning rate (warm-up, then cosine to 0).
    pub learning_rate: f32,
    pub seed: u64,
    /// Checkpoint, log, curves, weights and the picture.
    pub out: PathBuf,
    /// A checkpoint to continue from.
    pub resume: Option<PathBuf>,
    /// Validation scenes measured after every epoch.
    pub validation_scenes: usize,
    /// Test scenes measured at the end.
    pub test_scenes: usize,
    /// The MNIST files.
    pub data: PathBuf,
    pub verbose: bool,
}

/// The test scenes' seed: fixed, so every run is measured on the same
/// scenes whatever `--seed` is.
pub const TEST_SEED: u64 = 2024;

/// What `run` measured on the test scenes.
#[allow(dead_code)] // the example prints these; its test reads them
pub struct Report {
    pub tally: Tally,
    /// The best single threshold's IoU on the inked pixels, and its `t`.
    pub threshold: (f64, f32),
    pub model: Model<UNet>,
}

/// Loads MNIST and the textures, trains on fresh scenes every epoch
/// (printing the validation scenes' mean IoU after each), tests, draws.
/// Prints the per-class IoU and, last, `mean IoU: 0.NNN`.
pub fn run(plan: &Plan) -> Result<Report, cnn::Error> {
    let say = |s: String| {
        if plan.verbose {
            println!("{s}");
        }
    };
    std::fs::create_dir_all(&plan.out).map_err(|e| cnn::Error::io(&plan.out, e))?;
    let mnist = cnn::data::mnist::load(&plan.data)?;
    let textures = load_textures(&assets_dir())?;
    let seed = plan.seed;
    let train_scenes = LabelledScenes::new(
        Scenes::train(&mnist, scene_config(), seed)?,
        &textures,
        seed,
    );
    let val_scenes = LabelledScenes::new(
        Scenes::train(&mnist, scene_config(), seed ^ 0x5EED)?,
        &textures,
        seed ^ 0x5EED,
    );
    let test_scenes = LabelledScenes::new(
        Scenes::test(&mnist, scene_config(), TEST_SEED)?,
        &textures,
        TEST_SEED,
    );
    say(UNet::summary().to_string());
    say(format!(
        "training: {} epochs of {} fresh {SIDE}x{SIDE} scenes, batch {}, threads {}",
        plan.epochs,
        plan.scenes_per_epoch,
        plan.batch_size,
        cnn::parallel::threads()
    ));

    let mut model = Model::compile(UNet::new(seed), Adam::new(plan.learning_rate))
        .seed(seed)
        .setting("epochs", plan.epochs)
        .setting("scenes_per_epoch", plan.scenes_per_epoch);
    if let Some(path) = &plan.resume {
        model = model.resume_from(path)?;
        say(format!(
            "resuming from {}: {} of {} epochs done",
            path.display(),
            model.epoch(),
            plan.epochs
        ));
    }
    let steps_per_epoch = plan.scenes_per_epoch.div_ceil(plan.batch_size);
    let total = plan.epochs * steps_per_epoch;
    let schedule =
        cnn::optim::WarmupCosine::new(plan.learning_rate, (total / 20).min(steps_per_epoch), total);
    let (val_x, val_labels) = val_scenes.batch(0, plan.validation_scenes);
    let validation = Dataset::with_label_maps(
        [SIDE, SIDE, 1],
        val_x.clone(),
        val_labels.clone(),
        SIDE * SIDE,
        CLASSES,
    )?;
    let start = std::time::Instant::now();
    while model.epoch() < plan.epochs {
        let epoch = model.epoch() + 1;
        let data =
            train_scenes.dataset((epoch - 1) * plan.scenes_per_epoch, plan.scenes_per_epoch)?;
        let fit = Fit::epochs(epoch)
            .of(plan.epochs)
            .batch_size(plan.batch_size)
            .schedule(&schedule)
            .validation_data(&validation)
            .verbose(plan.verbose)
            .checkpoint(plan.out.join("segment_checkpoint.safetensors"))
            .csv_log(plan.out.join("history.csv"))
            .curves(
                plan.out.join("curves.svg"),
                "U-Net on digit scenes (pixel accuracy)",
            );
        model.fit(&data, fit)?;
        let mut tally = Tally::default();
        tally.add(&predict_labels(model.network(), &val_x)?, &val_labels);
        say(format!(
            "epoch {epoch}/{}: validation mean IoU {:.3} ({:.0} s so far)",
            plan.epochs,
            tally.mean_iou(),
            start.elapsed().as_secs_f64()
        ));
    }
    model.network().save(plan.out.join("unet.safetensors"))?;

    let (test_x, test_labels) = test_scenes.batch(0, plan.test_scenes);
    let predicted = predict_labels(model.network(), &test_x)?;
    let mut tally = Tally::default();
    tally.add(&predicted, &test_labels);
    let threshold = best_threshold(&test_x, &test_labels);
    let picture = plan.out.join("segmentations.png");
    write_picture(&picture, &test_x, &predicted, &test_labels, 8)?;
    say(format!(
        "wrote {} (each scene, then the predicted labels, then the true ones)",
        picture.display()
    ));
    say(format!(
        "a threshold on the pixels: ink IoU {:.3} at best (pixel > {:.2})",
        threshold.0, threshold.1
    ));
    let names = |c: usize| {
        if c == BACKGROUND {
            "background".to_string()
        } else {
            c.to_string()
        }
    };
    let per_class: Vec<String> = tally
        .iou()
        .iter()
        .enumerate()
        .map(|(c, iou)| format!("{}: {:.3}", names(c), iou.unwrap_or(f64::NAN)))
        .collect();
    say(format!(
        "{} test scenes; IoU per class: {}",
        plan.test_scenes,
        per_class.join(", ")
    ));
    say(format!("mean IoU: {:.3}", tally.mean_iou()));
    Ok(Report {
        tally,
        threshold,
        model,
    })
}
