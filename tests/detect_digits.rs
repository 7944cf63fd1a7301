//! The core of `examples/detect_digits.rs` on a few scenes, so CI runs it
//! in seconds: anchors, one training step per epoch through `fit` with a
//! checkpoint, a run interrupted after one epoch and resumed ending with
//! the weights of the run that was not (epoch `e`'s scenes depend on `e`
//! alone), the two APs in range, and the picture of the detections.

#[path = "../examples/shared/detector.rs"]
mod detector;

use cnn::data::scenes::{write_grid, Scenes};
use cnn::detect::{Decode, Grid};
use detector::{DigitDetector, Plan};
use std::path::PathBuf;

fn scratch(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("cnn-detect-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn plan(epochs: usize, out: &std::path::Path) -> Plan {
    Plan {
        epochs,
        scenes_per_epoch: 4,
        batch_size: 4,
        learning_rate: 1e-3,
        seed: 3,
        out: Some(out.to_path_buf()),
        resume: None,
        validation_scenes: 2,
        verbose: false,
        stop_after: None,
    }
}

#[test]
fn the_example_core_trains_resumes_measures_and_draws() {
    let mnist = cnn::data::mnist::load(&cnn::data::mnist::vendored_dir()).unwrap();
    let config = detector::scene_config();
    let train = Scenes::train(&mnist, config, 3).unwrap();
    let validation = Scenes::train(&mnist, config, 4).unwrap();
    let test = Scenes::test(&mnist, config, 5).unwrap();
    let anchors = detector::fit_anchors(&train, 20).unwrap();
    assert_eq!(anchors.len(), detector::A);
    assert!(anchors
        .windows(2)
        .all(|w| w[0].h * w[0].w <= w[1].h * w[1].w));
    let grid = Grid::new(detector::S, anchors, detector::K).unwrap();
    assert_eq!(grid.shape(), DigitDetector::OUTPUT_SHAPE);

    // Two epochs straight...
    let straight = scratch("straight");
    let model = detector::train(&train, &validation, &grid, &plan(2, &straight)).unwrap();
    let history = model.history().clone();
    assert_eq!(history.epochs.len(), 2);
    assert!(history
        .epochs
        .iter()
        .all(|e| e.loss.is_finite() && e.val_loss.is_some()));
    let whole = model.into_network();
    // ...and the same run interrupted after its first epoch, then resumed.
    let broken = scratch("resumed");
    let mut interrupted = plan(2, &broken);
    interrupted.stop_after = Some(1);
    let model = detector::train(&train, &validation, &grid, &interrupted).unwrap();
    assert_eq!(model.epoch(), 1);
    let mut resumed = plan(2, &broken);
    resumed.resume = Some(detector::checkpoint_path(&broken));
    let net = detector::train(&train, &validation, &grid, &resumed)
        .unwrap()
        .into_network();
    assert_eq!(net.params(), whole.params());
    assert!(broken.join("history.csv").exists() && broken.join("curves.svg").exists());
    // A checkpoint of a run with another epoch count (another schedule)
    // is refused, naming the difference.
    let mut other = plan(3, &broken);
    other.resume = Some(detector::checkpoint_path(&broken));
    let Err(err) = detector::train(&train, &validation, &grid, &other) else {
        panic!("a checkpoint of a 2-epoch run resumed as a 3-epoch one");
    };
    assert!(err.to_string().contains("epochs"), "{err}");

    // The measures, on a few test scenes.
    let indices: Vec<usize> = (0..4).collect();
    let (voc, coco) = detector::measure(&whole, &grid, &test, &indices).unwrap();
    let map = voc.map.unwrap();
    let ap = coco.ap.unwrap();
    assert!(
        (0.0..=1.0).contains(&map) && (0.0..=1.0).contains(&ap),
        "{map} {ap}"
    );
    let outputs = detector::outputs(&whole, &test, &indices, 3).unwrap();
    assert_eq!(outputs.len(), 4 * grid.len());
    assert!(outputs.iter().all(|v| v.is_finite()));

    let dets = detector::detect(&whole, &grid, &test, &indices, &Decode::COURSE).unwrap();
    let tiles: Vec<_> = indices
        .iter()
        .zip(dets)
        .map(|(&i, d)| (test.scene(i), d))
        .collect();
    let png = straight.join("detections.png");
    write_grid(&png, &tiles, 2).unwrap();
    assert!(std::fs::metadata(&png).unwrap().len() > 0);
    for d in [straight, broken] {
        std::fs::remove_dir_all(d).unwrap();
    }
}
