//! What `localize_digits` does, on any number of canvases, so that
//! `tests/localize_example.rs` can run it on a few: the canvases, the
//! network, training through `Model::fit` with the localization loss, the
//! test figures and the picture.
//!
//! Two choices carry the figures. The network is two branches that share
//! no weight, one for where the digit is (`pc` and the box) and one for
//! what it is (the class): with one trunk for both, the box learned and
//! the class stayed near chance (19% of validation digits after 60,000
//! canvases, with the box weighted 100; 95% after 50,000 with two
//! branches). Even a box weight of 1 held it at 16% after 20,000
//! canvases, where a weight of 0 let it reach 46%. And every epoch trains
//! on canvases never seen before (indices `(e - 1) n .. e n` of the
//! endless training set, as `detect_digits` does), so the dense readouts,
//! which learn each place on the canvas apart, do not memorise a fixed
//! set.

use cnn::data::scenes::{self, SceneConfig, Scenes};
use cnn::detect::{BBox, Detection};
use cnn::loss::{localization, metrics, Localization};
use cnn::prelude::*;
use cnn::train::Metric;

use super::train_args::{step_schedule, Args};

/// Side of a canvas.
pub const SIDE: usize = 64;
/// `[pc, bx, by, bh, bw, c0..c9]`.
pub const ROW: usize = 15;

network! {
    /// A digit's presence, box and class from a 64x64 canvas, in two
    /// branches that share no weight, joined into the row
    /// `[pc, bx, by, bh, bw, c0..c9]`. Where: a stride-2 convolution and
    /// three 3x3 stages (two with 2x2 max pooling) keep an 8x8 map of
    /// where things are, and a dense layer reads `[pc, bx, by, bh, bw]`
    /// from it. What: the same start, then stages down to a 4x4 map whose
    /// every position sees 77 pixels, more than the largest digit (45),
    /// and a dense layer reads the ten class logits.
    pub struct Localizer {
        input: [64, 64, 1],
        layers: [
            heads: Concat {
                branches: [
                    [
                        where1: Conv2d { filters: 16, kernel: 3, stride: 2, padding: same, bias: false },
                        where_bn1: BatchNorm,
                        Relu,
                        where2: Conv2d { filters: 32, kernel: 3, padding: same, bias: false },
                        where_bn2: BatchNorm,
                        Relu,
                        MaxPool2d { size: 2 },
                        where3: Conv2d { filters: 64, kernel: 3, padding: same, bias: false },
                        where_bn3: BatchNorm,
                        Relu,
                        MaxPool2d { size: 2 },
                        where4: Conv2d { filters: 64, kernel: 3, padding: same, bias: false },
                        where_bn4: BatchNorm,
                        Relu,
                        Flatten,
                        where_fc: Dense { units: 256 },
                        Relu,
                        where_out: Dense { units: 5 },
                    ],
                    [
                        what1: Conv2d { filters: 16, kernel: 3, stride: 2, padding: same, bias: false },
                        what_bn1: BatchNorm,
                        Relu,
                        what2: Conv2d { filters: 32, kernel: 3, padding: same, bias: false },
                        what_bn2: BatchNorm,
                        Relu,
                        MaxPool2d { size: 2 },
                        what3: Conv2d { filters: 64, kernel: 3, padding: same, bias: false },
                        what_bn3: BatchNorm,
                        Relu,
                        MaxPool2d { size: 2 },
                        what4: Conv2d { filters: 128, kernel: 3, padding: same, bias: false },
                        what_bn4: BatchNorm,
                        Relu,
                        MaxPool2d { size: 2 },
                        what5: Conv2d { filters: 128, kernel: 3, padding: same, bias: false },
                        what_bn5: BatchNorm,
                        Relu,
                        Flatten,
                        what_fc: Dense { units: 256 },
                        Relu,
                        what_out: Dense { units: 10 },
                    ],
                ],
            },
        ],
    }
}

const _: () = assert!(Localizer::OUTPUT_SIZE == ROW);

/// How many canvases of each kind.
pub struct Sizes {
    /// Fresh training canvases per epoch.
    pub train: usize,
    pub validation: usize,
    pub test: usize,
}

/// The canvases: one digit scaled 0.6-1.6x anywhere on 64x64.
fn config() -> SceneConfig {
    SceneConfig {
        size: SIDE,
        digits: (1, 1),
        scale: (0.6, 1.6),
        ..SceneConfig::default()
    }
}

/// Whether canvas `i` of a set is empty: one in five, fixed by the seed.
fn empty(seed: u64, i: usize) -> bool {
    cnn::rng::splitmix64(seed ^ (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)).is_multiple_of(5)
}

/// Canvases `first..first + n` of `scenes` (seeded by `seed`) as a data
/// set of value targets, and the scenes themselves (for pictures).
fn canvases(
    scenes: &Scenes<'_>,
    seed: u64,
    first: usize,
    n: usize,
) -> Result<(Dataset, Vec<scenes::Scene>), cnn::Error> {
    let (mut x, mut v, mut kept) = (Vec::new(), Vec::new(), Vec::new());
    for i in first..first + n {
        let mut scene = scenes.scene(i);
        if empty(seed, i) {
            scene.pixels.fill(0.0);
            scene.objects.clear();
        }
        x.extend_from_slice(&scene.pixels);
        let mut row = [0.0f32; ROW];
        if let Some(o) = scene.objects.first() {
            let b = o.bbox;
            row[..5].copy_from_slice(&[1.0, b.bx, b.by, b.bh, b.bw]);
            row[5 + o.class] = 1.0;
        }
        v.extend_from_slice(&row);
        kept.push(scene);
    }
    Ok((Dataset::with_values([SIDE, SIDE, 1], x, v, ROW)?, kept))
}

/// The network's raw rows for every canvas of `data`, 256 at a time.
fn outputs(net: &Localizer, data: &Dataset) -> Result<Vec<f32>, cnn::Error> {
    let per = SIDE * SIDE;
    let mut out = Vec::with_capacity(data.len() * ROW);
    for start in (0..data.len()).step_by(256) {
        let n = 256.min(data.len() - start);
        let x = cnn::ndarray::ArrayView4::from_shape(
            (n, SIDE, SIDE, 1),
            &data.images()[start * per..(start + n) * per],
        )
        .map_err(|e| cnn::Error::InvalidArgument(e.to_string()))?;
        out.extend(net.predict(x)?.iter());
    }
    Ok(out)
}

/// Loads MNIST, makes the canvases, trains, tests, draws. Prints the four
/// figure lines last.
pub fn run(args: &Args, sizes: Sizes) -> Result<Model<Localizer>, cnn::Error> {
    if let Some(t) = args.threads {
        cnn::parallel::set_threads(t);
    }
    std::fs::create_dir_all(&args.out).map_err(|e| cnn::Error::io(&args.out, e))?;
    let mnist = cnn::data::mnist::load(&args.data)?;
    let seed = args.seed;
    let per_epoch = sizes.train;
    let train_scenes = Scenes::train(&mnist, config(), seed)?;
    let val_scenes = Scenes::train(&mnist, config(), seed ^ 0x5EED)?;
    let test_scenes = Scenes::test(&mnist, config(), seed ^ 0x7E57)?;
    let (val, _) = canvases(&val_scenes, seed ^ 0x5EED, 0, sizes.validation)?;
    let (test, test_pictures) = canvases(&test_scenes, seed ^ 0x7E57, 0, sizes.test)?;
    println!(
        "{per_epoch} fresh training canvases per epoch, {} validation and {} test canvases of \
         {SIDE}x{SIDE}, one digit scaled 0.6-1.6x on four in five",
        val.len(),
        test.len()
    );
    println!("{}", Localizer::summary());

    // The box is in fractions of the canvas, so its squared error is small
    // beside the other terms (a pixel off is 0.016): it weighs 100 times
    // theirs. The class has a branch of its own, so the weight trades the
    // box against `pc` alone.
    let loss = Localization::new().with_box_weight(100.0);
    let mut model = Model::compile(Localizer::new(seed), Adam::new(args.learning_rate))
        .loss(loss)
        .metric(Metric::BoxIou)
        .seed(seed)
        .setting("epochs", args.epochs)
        .setting("canvases_per_epoch", per_epoch);
    if let Some(path) = &args.resume {
        model = model.resume_from(path)?;
        println!(
            "resuming from {}: {} of {} epochs done",
            path.display(),
            model.epoch(),
            args.epochs
        );
    }
    let schedule = step_schedule(
        args.learning_rate,
        args.epochs,
        per_epoch.div_ceil(args.batch_size),
    );
    let last = args.epochs.min(args.stop_after.unwrap_or(usize::MAX));
    while model.epoch() < last {
        let epoch = model.epoch() + 1;
        let (train, _) = canvases(&train_scenes, seed, (epoch - 1) * per_epoch, per_epoch)?;
        model.fit(
            &train,
            Fit::epochs(epoch)
                .of(args.epochs)
                .batch_size(args.batch_size)
                .validation_data(&val)
                .schedule(&schedule)
                .verbose(!args.quiet)
                .checkpoint(args.out.join("localize_digits_checkpoint.safetensors"))
                .csv_log(args.out.join("history.csv"))
                .curves(
                    args.out.join("curves.svg"),
                    "Localization on MNIST canvases (box IoU)",
                ),
        )?;
        if !args.quiet {
            let m = metrics::localization(&outputs(model.network(), &val)?, ROW, val.values())?;
            println!(
                "  validation: presence {:.2}%, class {:.2}%, mean IoU {:.3}, IoU >= 0.5 {:.2}%",
                100.0 * m.presence_accuracy,
                100.0 * m.class_accuracy,
                m.mean_iou,
                100.0 * m.iou_at_least_half
            );
        }
    }
    if model.epoch() < args.epochs {
        return Ok(model); // stopped early, as if interrupted
    }
    model
        .network()
        .save(args.out.join("localizer.safetensors"))?;

    let outputs = outputs(model.network(), &test)?;
    let m = metrics::localization(&outputs, ROW, test.values())?;

    // A picture: the first 16 test canvases, true boxes in colour,
    // predicted ones (where pc > 0.5) in white.
    let shown: Vec<_> = test_pictures
        .iter()
        .zip(outputs.chunks_exact(ROW))
        .take(16)
        .map(|(scene, row)| {
            let pc = localization::presence_probability(row);
            let [bx, by, bh, bw] = localization::bounding_box(row);
            let dets = if pc > 0.5 {
                vec![Detection {
                    bbox: BBox { bx, by, bh, bw },
                    score: pc,
                    class: localization::class(row),
                }]
            } else {
                Vec::new()
            };
            (scene.clone(), dets)
        })
        .collect();
    let picture = args.out.join("test_canvases.png");
    scenes::write_grid(&picture, &shown, 4)?;
    println!(
        "wrote {} (true boxes in colour, predicted in white)",
        picture.display()
    );
    println!("presence accuracy: {:.2}%", 100.0 * m.presence_accuracy);
    println!("classification accuracy: {:.2}%", 100.0 * m.class_accuracy);
    println!("mean IoU: {:.3}", m.mean_iou);
    println!("IoU >= 0.5: {:.2}%", 100.0 * m.iou_at_least_half);
    Ok(model)
}
