//! The digit detector of `examples/detect_digits.rs`, shared with its
//! integration test (`tests/detect_digits.rs`) and the ONNX export
//! (`examples/onnx_export.rs`): the network, its grid, how it trains on
//! scenes, and how it is measured.
//!
//! A YOLO-style detector (Redmon et al. 2016, with YOLO v2's anchors): six
//! `3x3` convolutions with batch norm and leaky ReLU, the first of stride
//! 2 and two `2x2` max pools after the second and third, so a 96x96 scene
//! becomes a `12x12` grid of 8-pixel cells, and a `1x1` convolution to the
//! raw `12x12x(3 * 15)` volume of 3 anchors and 10 classes
//! ([`cnn::detect::grid`]'s layout). The receptive field of a cell is 69
//! pixels, more than the largest digit (56). Eight-pixel cells leave two
//! digits in one cell and anchor rare: scenes keep boxes apart (IoU at
//! most 0.1). The first convolution has stride 2 rather than a pool
//! after it, so no activation is kept at 96x96.
//!
//! Augmentation is the scenes themselves: every epoch trains on scenes
//! never seen before (indices `(e - 1) n .. e n` of the endless training
//! set), in which each digit is drawn at a random scale (0.5 to 2) and a
//! random place, and the boxes are made with it. So nothing has to move
//! boxes after the fact; `fit`, which refuses augmentation that moves
//! pixels for value targets, gets a fresh `Dataset` per epoch. Digits are
//! not mirror-symmetric, so there is no flip.

// Each includer uses part of this file.
#![allow(dead_code)]

use std::path::PathBuf;

use cnn::data::scenes::{SceneConfig, Scenes};
use cnn::detect::{
    coco_map, kmeans_anchors, voc_map, Anchor, CocoReport, Decode, Detection, Grid, Object,
    VocReport, YoloLoss,
};
use cnn::ndarray::ArrayView4;
use cnn::prelude::*;

/// The grid's side: 96 / 8.
pub const S: usize = 12;
/// Anchors per cell.
pub const A: usize = 3;
/// Classes: the ten digits.
pub const K: usize = 10;
/// The side of a scene.
pub const SIDE: usize = 96;

network! {
    /// A 96x96 scene to the raw `12x12x45` YOLO volume.
    pub struct DigitDetector {
        input: [96, 96, 1],
        layers: [
            c1: Conv2d { filters: 16, kernel: 3, stride: 2, padding: same, bias: false },
            bn1: BatchNorm,
            LeakyRelu { alpha: 0.1 },
            c2: Conv2d { filters: 32, kernel: 3, padding: same, bias: false },
            bn2: BatchNorm,
            LeakyRelu { alpha: 0.1 },
            MaxPool2d { size: 2 },
            c3: Conv2d { filters: 64, kernel: 3, padding: same, bias: false },
            bn3: BatchNorm,
            LeakyRelu { alpha: 0.1 },
            MaxPool2d { size: 2 },
            c4: Conv2d { filters: 96, kernel: 3, padding: same, bias: false },
            bn4: BatchNorm,
            LeakyRelu { alpha: 0.1 },
            c5: Conv2d { filters: 96, kernel: 3, padding: same, bias: false },
            bn5: BatchNorm,
            LeakyRelu { alpha: 0.1 },
            c6: Conv2d { filters: 96, kernel: 3, padding: same, bias: false },
            bn6: BatchNorm,
            LeakyRelu { alpha: 0.1 },
            head: Conv2d { filters: 45, kernel: 1 },
        ],
    }
}

// The output is the grid's volume, checked when this file compiles.
const _: () = cnn::detect::assert_grid(DigitDetector::OUTPUT_SHAPE, S, A, K);

/// The scenes: the library's defaults (96x96, 1 to 5 digits scaled 0.5
/// to 2, boxes apart by IoU 0.1).
pub fn scene_config() -> SceneConfig {
    SceneConfig::default()
}

/// How many training scenes' boxes the anchors are fitted to.
pub const ANCHOR_SCENES: usize = 2_000;

/// The anchors: k-means (`1 - IoU`, YOLO v2) over the boxes of the first
/// [`ANCHOR_SCENES`] training scenes, sorted by area. The same for a
/// seed every run, so a resumed run and a reloaded detector decode alike.
pub fn fit_anchors(train: &Scenes<'_>, scenes: usize) -> Result<Vec<Anchor>, cnn::Error> {
    let shapes: Vec<(f32, f32)> = (0..scenes)
        .flat_map(|i| train.scene(i).objects)
        .map(|o| (o.bbox.bh, o.bbox.bw))
        .collect();
    let mut anchors = kmeans_anchors(&shapes, A, 1, 100)?.anchors;
    anchors.sort_by(|a, b| (a.h * a.w).total_cmp(&(b.h * b.w)));
    Ok(anchors)
}

/// Scenes `first..first + n` of `scenes` as a `Dataset` of pixels and
/// encoded grid volumes.
pub fn scene_data(
    scenes: &Scenes<'_>,
    grid: &Grid,
    first: usize,
    n: usize,
) -> Result<Dataset, cnn::Error> {
    let indices: Vec<usize> = (first..first + n).collect();
    let mut x = vec![0.0; n * SIDE * SIDE];
    let mut target = vec![0.0; n * grid.len()];
    scenes.gather(&indices, grid, &mut x, &mut target)?;
    Dataset::with_values([SIDE, SIDE, 1], x, target, grid.len())
}

/// How to train.
#[derive(Clone, Debug)]
pub struct Plan {
    pub epochs: usize,
    /// Fresh scenes per epoch.
    pub scenes_per_epoch: usize,
    pub batch_size: usize,
    /// Adam's peak learning rate (warm-up, then cosine to 0).
    pub learning_rate: f32,
    pub seed: u64,
    /// Where the checkpoint, log and curves go (none: nowhere).
    pub out: Option<PathBuf>,
    /// A checkpoint to continue from.
    pub resume: Option<PathBuf>,
    /// How many validation scenes the loss curve shows; 0 for none.
    pub validation_scenes: usize,
    pub verbose: bool,
    /// Stop after this epoch, as if interrupted (the resume test).
    pub stop_after: Option<usize>,
}

/// The checkpoint's file in `out`.
pub fn checkpoint_path(out: &std::path::Path) -> PathBuf {
    out.join("detector_checkpoint.safetensors")
}

/// Trains a detector: `plan.epochs` epochs of fresh scenes, Adam with a
/// warm-up and cosine schedule over the whole run, the YOLO loss on
/// `grid`; with `plan.out`, a resumable checkpoint, the CSV log and the
/// curves after every epoch. A run resumed from its checkpoint ends with
/// the weights of the run that was not interrupted: epoch `e`'s scenes
/// depend on `e` alone.
pub fn train(
    train_scenes: &Scenes<'_>,
    validation_scenes: &Scenes<'_>,
    grid: &Grid,
    plan: &Plan,
) -> Result<Model<DigitDetector>, cnn::Error> {
    let mut model = Model::compile(DigitDetector::new(plan.seed), Adam::new(plan.learning_rate))
        .loss(YoloLoss::new(grid.clone()))
        .seed(plan.seed)
        .setting("epochs", plan.epochs)
        .setting("scenes_per_epoch", plan.scenes_per_epoch);
    if let Some(path) = &plan.resume {
        model = model.resume_from(path)?;
        if plan.verbose {
            println!(
                "resuming from {}: {} of {} epochs done",
                path.display(),
                model.epoch(),
                plan.epochs
            );
        }
    }
    let steps_per_epoch = plan.scenes_per_epoch.div_ceil(plan.batch_size);
    let total = plan.epochs * steps_per_epoch;
    let schedule =
        cnn::optim::WarmupCosine::new(plan.learning_rate, (total / 20).min(steps_per_epoch), total);
    let validation = match plan.validation_scenes {
        0 => None,
        n => Some(scene_data(validation_scenes, grid, 0, n)?),
    };
    let last = plan.epochs.min(plan.stop_after.unwrap_or(usize::MAX));
    while model.epoch() < last {
        let epoch = model.epoch() + 1;
        let data = scene_data(
            train_scenes,
            grid,
            (epoch - 1) * plan.scenes_per_epoch,
            plan.scenes_per_epoch,
        )?;
        let mut fit = Fit::epochs(epoch)
            .of(plan.epochs)
            .batch_size(plan.batch_size)
            .schedule(&schedule)
            .verbose(plan.verbose);
        if let Some(v) = &validation {
            fit = fit.validation_data(v);
        }
        if let Some(out) = &plan.out {
            fit = fit
                .checkpoint(checkpoint_path(out))
                .csv_log(out.join("history.csv"))
                .curves(out.join("curves.svg"), "YOLO digit detector on scenes");
        }
        model.fit(&data, fit)?;
    }
    Ok(model)
}

/// What AP is computed on: every box with a score of at least 0.01 (a
/// threshold low enough that the precision-recall curve reaches the
/// detector's full recall, as VOC and COCO evaluations do), after
/// non-max suppression per class at IoU 0.5, at most 100 per scene.
pub const AP_DECODE: Decode = Decode {
    score_threshold: 0.01,
    iou_threshold: 0.5,
    per_class: true,
    max_boxes: Some(100),
};

/// The raw outputs of scenes `indices`, in batches of `batch`.
pub fn outputs(
    net: &DigitDetector,
    scenes: &Scenes<'_>,
    indices: &[usize],
    batch: usize,
) -> Result<Vec<f32>, cnn::Error> {
    let per = SIDE * SIDE;
    let mut out = Vec::with_capacity(indices.len() * DigitDetector::OUTPUT_SIZE);
    let mut x = Vec::with_capacity(batch * per);
    for chunk in indices.chunks(batch.max(1)) {
        x.clear();
        for &i in chunk {
            x.extend_from_slice(&scenes.scene(i).pixels);
        }
        let view = ArrayView4::from_shape((chunk.len(), SIDE, SIDE, 1), &x)
            .map_err(|e| cnn::Error::InvalidArgument(e.to_string()))?;
        out.extend(net.predict(view)?.iter());
    }
    Ok(out)
}

/// The detections of scenes `indices` decoded with `decode`.
pub fn detect(
    net: &DigitDetector,
    grid: &Grid,
    scenes: &Scenes<'_>,
    indices: &[usize],
    decode: &Decode,
) -> Result<Vec<Vec<Detection>>, cnn::Error> {
    outputs(net, scenes, indices, 64)?
        .chunks_exact(grid.len())
        .map(|o| grid.decode(o, decode))
        .collect()
}

/// VOC's mAP at IoU 0.5 and COCO's AP of the detector on scenes
/// `indices`, boxes from [`AP_DECODE`].
pub fn measure(
    net: &DigitDetector,
    grid: &Grid,
    scenes: &Scenes<'_>,
    indices: &[usize],
) -> Result<(VocReport, CocoReport), cnn::Error> {
    let dets = detect(net, grid, scenes, indices, &AP_DECODE)?;
    let truths: Vec<Vec<Object>> = indices.iter().map(|&i| scenes.scene(i).objects).collect();
    Ok((
        voc_map(&truths, &dets, K, 0.5)?,
        coco_map(&truths, &dets, K)?,
    ))
}
