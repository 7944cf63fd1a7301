//! `segment_digits` through its own shared code
//! (`examples/shared/segment.rs`) on a few scenes: the label maps say
//! which digit's ink covers each pixel, the scenes are the same every
//! time, a threshold on the pixels does not find the digits, and the
//! example trains through `Model::fit` on label maps, measures the IoU of
//! every class and writes its files.

use crate::segment::{self, LabelledScenes, Plan, Tally, BACKGROUND, CLASSES, SIDE};
use cnn::data::scenes::Scenes;

#[test]
fn label_maps_follow_the_ink_of_each_digit() {
    let mnist = cnn::data::mnist::load(&cnn::data::mnist::vendored_dir()).unwrap();
    let textures = segment::load_textures(&segment::assets_dir()).unwrap();
    let digits = Scenes::test(&mnist, segment::scene_config(), 9).unwrap();
    let scenes = LabelledScenes::new(digits.clone(), &textures, 9);
    let (x, labels) = scenes.batch(0, 6);
    assert_eq!(scenes.batch(0, 6), (x.clone(), labels.clone()));
    let per = SIDE * SIDE;
    for i in 0..6 {
        let digit_scene = digits.scene(i);
        let map = &labels[i * per..][..per];
        for o in &digit_scene.objects {
            // Every digit covers some pixels, all inside its box.
            let c = o.bbox.corners().scaled(SIDE as f32, SIDE as f32);
            let inside = |p: usize| {
                let (y, x) = ((p / SIDE) as f32 + 0.5, (p % SIDE) as f32 + 0.5);
                (c.x1..c.x2).contains(&x) && (c.y1..c.y2).contains(&y)
            };
            let covered: Vec<usize> = (0..per).filter(|&p| map[p] == o.class).collect();
            assert!(
                !covered.is_empty(),
                "scene {i}: digit {} has no pixel",
                o.class
            );
            let others = digit_scene
                .objects
                .iter()
                .filter(|p| p.class == o.class)
                .count();
            if others == 1 {
                assert!(covered.iter().all(|&p| inside(p)), "scene {i}");
            }
        }
        // Where the digits have ink above the threshold, and nowhere else.
        for (p, &l) in map.iter().enumerate() {
            assert!(l < CLASSES);
            assert_eq!(
                l != BACKGROUND,
                digit_scene.pixels[p] > segment::INK,
                "scene {i} pixel {p}"
            );
        }
    }
    // The digits are not the bright pixels.
    let (iou, _) = segment::best_threshold(&x, &labels);
    assert!(iou < 0.6, "a threshold finds the ink with IoU {iou}");
}

#[test]
fn the_example_trains_measures_and_draws_on_a_few_scenes() {
    let out = std::env::temp_dir().join(format!("cnn-segment-{}", std::process::id()));
    let plan = Plan {
        epochs: 2,
        scenes_per_epoch: 8,
        batch_size: 4,
        learning_rate: 3e-3,
        seed: 5,
        out: out.clone(),
        resume: None,
        validation_scenes: 4,
        test_scenes: 8,
        data: cnn::data::mnist::vendored_dir(),
        verbose: false,
    };
    let report = segment::run(&plan).unwrap();
    assert_eq!(report.model.epoch(), 2);
    assert!(report
        .model
        .history()
        .epochs
        .iter()
        .all(|e| e.loss.is_finite()));
    let t: &Tally = &report.tally;
    assert_eq!(t.labelled.iter().sum::<u64>(), (8 * SIDE * SIDE) as u64);
    assert_eq!(t.predicted.iter().sum::<u64>(), (8 * SIDE * SIDE) as u64);
    assert!((0.0..=1.0).contains(&t.mean_iou()));
    assert!(report.threshold.0 < 0.6);
    for file in [
        "unet.safetensors",
        "segmentations.png",
        "segment_checkpoint.safetensors",
        "history.csv",
        "curves.svg",
    ] {
        assert!(out.join(file).exists(), "{file} missing");
    }
    std::fs::remove_dir_all(&out).ok();
}
