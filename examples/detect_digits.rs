//! Object detection on scenes of handwritten digits (the course's week 3):
//! trains the YOLO-style detector of `examples/shared/detector.rs` on
//! fresh scenes every epoch, with a progress bar, a resumable checkpoint,
//! the CSV log and the curves; then reports, on 1,000 test scenes (made
//! from MNIST's test digits, never seen in training), PASCAL VOC's
//! `mAP@0.5` and COCO's AP over IoU 0.50:0.05:0.95, the scenes per second
//! at batch 1 and batch 64, and draws 16 test scenes with their
//! detections (the course's decoding: score `pc * p(class) >= 0.6`,
//! non-max suppression per class at IoU 0.5) into `detections.png`.
//! Built with `--features onnx` it also writes `onnx/model.onnx`, whose
//! output is the raw `12x12x45` volume, with 8 test scenes and `predict`'s
//! output on them for `scripts/onnx_check.py`.
//!
//!     cargo run --release --example detect_digits -- [--data DIR] [--epochs N]
//!         [--scenes-per-epoch N] [--batch-size N] [--threads N] [--seed N]
//!         [--out DIR] [--lr X] [--test-scenes N] [--resume PATH]

#[path = "shared/cli.rs"]
mod cli;
#[path = "shared/detector.rs"]
mod detector;
#[cfg(feature = "onnx")]
#[path = "shared/npy.rs"]
mod npy;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use cnn::data::scenes::{write_grid, Scenes};
use cnn::detect::{Decode, Grid};
use cnn::ndarray::{Array4, ArrayView4};
use detector::{DigitDetector, Plan, SIDE};

/// The test scenes' seed: fixed, so every run is measured on the same
/// 1,000 scenes whatever `--seed` is.
const TEST_SEED: u64 = 2024;

struct Args {
    data: PathBuf,
    plan: Plan,
    threads: Option<usize>,
    test_scenes: usize,
}

/// The command line as clap reads it.
#[derive(clap::Parser)]
#[command(
    name = "detect_digits",
    about = "A YOLO-style detector of MNIST digits in scenes, trained on fresh scenes every epoch"
)]
struct Cli {
    /// The four MNIST IDX files [default: the vendored data/mnist]
    #[arg(long, value_name = "DIR")]
    data: Option<PathBuf>,
    /// Epochs, each on fresh scenes
    #[arg(long, value_name = "N", default_value_t = 32, value_parser = cli::positive)]
    epochs: usize,
    /// Scenes per epoch
    #[arg(long, value_name = "N", default_value_t = 4096, value_parser = cli::positive)]
    scenes_per_epoch: usize,
    /// Scenes per step
    #[arg(long, value_name = "N", default_value_t = 32, value_parser = cli::positive)]
    batch_size: usize,
    /// Worker threads [default: all cores; the speed figures use 2 unless given]
    #[arg(long, value_name = "N", value_parser = cli::positive)]
    threads: Option<usize>,
    /// Seed of the weights, the training scenes and their order
    #[arg(long, value_name = "N", default_value_t = 1)]
    seed: u64,
    /// Checkpoint, log, curves, weights and pictures
    #[arg(long, value_name = "DIR", default_value = "out/detect_digits")]
    out: PathBuf,
    /// Adam's peak learning rate (warm-up, then cosine to 0)
    #[arg(long, value_name = "X", default_value_t = 3e-3)]
    lr: f32,
    /// Test scenes measured
    #[arg(long, value_name = "N", default_value_t = 1000, value_parser = cli::positive)]
    test_scenes: usize,
    /// Continue from a checkpoint of this example (such as
    /// out/detect_digits/detector_checkpoint.safetensors), started with the
    /// same --epochs, --scenes-per-epoch, --batch-size, --seed and --lr
    #[arg(long, value_name = "PATH")]
    resume: Option<PathBuf>,
}

fn parse() -> Args {
    let c = <Cli as clap::Parser>::parse();
    Args {
        data: c.data.unwrap_or_else(cnn::data::mnist::vendored_dir),
        plan: Plan {
            epochs: c.epochs,
            scenes_per_epoch: c.scenes_per_epoch,
            batch_size: c.batch_size,
            learning_rate: c.lr,
            seed: c.seed,
            out: Some(c.out),
            resume: c.resume,
            validation_scenes: 512,
            verbose: true,
            stop_after: None,
        },
        threads: c.threads,
        test_scenes: c.test_scenes,
    }
}

fn main() -> ExitCode {
    let args = parse();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: &Args) -> Result<(), Box<dyn std::error::Error>> {
    if let Some(t) = args.threads {
        cnn::parallel::set_threads(t);
    }
    let out = args.plan.out.clone().unwrap_or_else(|| PathBuf::from("."));
    std::fs::create_dir_all(&out)?;
    println!("{}", DigitDetector::summary());
    let mnist = cnn::data::mnist::load(&args.data)?;
    let config = detector::scene_config();
    let train_scenes = Scenes::train(&mnist, config, args.plan.seed)?;
    // Validation scenes: training digits, another seed (the loss curve).
    let validation_scenes = Scenes::train(&mnist, config, args.plan.seed ^ 0x7A11D)?;
    let test_scenes = Scenes::test(&mnist, config, TEST_SEED)?;

    let anchors = detector::fit_anchors(&train_scenes, detector::ANCHOR_SCENES)?;
    let shown: Vec<String> = anchors
        .iter()
        .map(|a| format!("{:.0}x{:.0}", a.h * SIDE as f32, a.w * SIDE as f32))
        .collect();
    println!(
        "anchors (k-means over the boxes of {} training scenes, h x w pixels): {}",
        detector::ANCHOR_SCENES,
        shown.join(", ")
    );
    let grid = Grid::new(detector::S, anchors, detector::K)?;
    println!(
        "training: {} epochs of {} fresh scenes (random digits, scales 0.5-2 and places: the augmentation), batch {}, threads {}",
        args.plan.epochs,
        args.plan.scenes_per_epoch,
        args.plan.batch_size,
        cnn::parallel::threads()
    );
    let start = Instant::now();
    let model = detector::train(&train_scenes, &validation_scenes, &grid, &args.plan)?;
    println!("trained in {:.1} s", start.elapsed().as_secs_f64());
    let net = model.into_network();
    let weights = out.join("detector.safetensors");
    net.save(&weights)?;
    println!("weights: {}", weights.display());

    // Accuracy on test scenes.
    let indices: Vec<usize> = (0..args.test_scenes).collect();
    let (voc, coco) = detector::measure(&net, &grid, &test_scenes, &indices)?;
    let per_class: Vec<String> = voc
        .per_class
        .iter()
        .enumerate()
        .map(|(k, ap)| format!("{k}: {:.3}", ap.unwrap_or(f64::NAN)))
        .collect();
    println!(
        "{} test scenes, {} digits; AP@0.5 per class (VOC): {}",
        indices.len(),
        indices
            .iter()
            .map(|&i| test_scenes.scene(i).objects.len())
            .sum::<usize>(),
        per_class.join(", ")
    );
    println!(
        "COCO AP@0.50: {:.3}, AP@0.75: {:.3}",
        coco.ap50.unwrap_or(f64::NAN),
        coco.ap75.unwrap_or(f64::NAN)
    );
    println!("mAP@0.5: {:.3}", voc.map.unwrap_or(f64::NAN));
    println!("COCO AP: {:.3}", coco.ap.unwrap_or(f64::NAN));

    // Speed: the network and the course's decoding, per scene.
    cnn::parallel::set_threads(args.threads.unwrap_or(2));
    let threads = cnn::parallel::threads();
    let pictures: Vec<Vec<f32>> = (0..300).map(|i| test_scenes.scene(i).pixels).collect();
    let one = |p: &[f32]| -> Result<(), cnn::Error> {
        let x = ArrayView4::from_shape((1, SIDE, SIDE, 1), p)
            .map_err(|e| cnn::Error::InvalidArgument(e.to_string()))?;
        let y = net.predict(x)?;
        grid.decode(y.as_slice().unwrap_or(&[]), &Decode::COURSE)?;
        Ok(())
    };
    for p in pictures.iter().take(30) {
        one(p)?;
    }
    let t = Instant::now();
    for p in &pictures {
        one(p)?;
    }
    let batch1 = pictures.len() as f64 / t.elapsed().as_secs_f64();
    let mut x64 = Vec::with_capacity(64 * SIDE * SIDE);
    for p in pictures.iter().take(64) {
        x64.extend_from_slice(p);
    }
    let x64 = Array4::from_shape_vec((64, SIDE, SIDE, 1), x64)?;
    let sixty_four = || -> Result<(), cnn::Error> {
        let y = net.predict(x64.view())?;
        for o in y.as_slice().unwrap_or(&[]).chunks_exact(grid.len()) {
            grid.decode(o, &Decode::COURSE)?;
        }
        Ok(())
    };
    sixty_four()?;
    let rounds = 10;
    let t = Instant::now();
    for _ in 0..rounds {
        sixty_four()?;
    }
    let batch64 = (64 * rounds) as f64 / t.elapsed().as_secs_f64();
    println!(
        "speed ({threads} threads, network and decoding): {batch1:.0} scenes/s at batch 1 ({:.2} ms per scene, {} calls after 30 warm-up), {batch64:.0} scenes/s at batch 64",
        1e3 / batch1,
        pictures.len()
    );

    // A picture of 16 test scenes: true boxes in their class's colour,
    // detections in white with class and score.
    let shown: Vec<usize> = (0..16).collect();
    let dets = detector::detect(&net, &grid, &test_scenes, &shown, &Decode::COURSE)?;
    let tiles: Vec<_> = shown
        .iter()
        .zip(dets)
        .map(|(&i, d)| (test_scenes.scene(i), d))
        .collect();
    let png = out.join("detections.png");
    write_grid(&png, &tiles, 4)?;
    println!("picture: {}", png.display());

    #[cfg(feature = "onnx")]
    {
        // The model, 8 test scenes (NCHW: one channel, so the same
        // values) and predict's raw volumes on them, for
        // `python3 scripts/onnx_check.py <out>`.
        let dir = out.join("onnx");
        std::fs::create_dir_all(&dir)?;
        let onnx = dir.join("model.onnx");
        net.export_onnx(&onnx)?;
        let x: Vec<f32> = (0..8).flat_map(|i| test_scenes.scene(i).pixels).collect();
        let y = net.predict(ArrayView4::from_shape((8, SIDE, SIDE, 1), &x)?)?;
        npy::write_npy(&dir.join("input.npy"), &[8, 1, SIDE, SIDE], &x)?;
        npy::write_npy(
            &dir.join("output.npy"),
            y.shape(),
            y.as_slice().unwrap_or(&[]),
        )?;
        println!(
            "ONNX: {} (output: the raw 12x12x45 volume; check with python3 scripts/onnx_check.py {})",
            onnx.display(),
            out.display()
        );
    }
    Ok(())
}
