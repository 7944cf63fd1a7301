//! `clips` through its own shared code (`examples/shared/clips.rs`) on a
//! few clips: a clip's digit moves the way its class says, stays in the
//! field, and is the same every time; the example trains through
//! `Model::fit` on volumes and writes its files.

use crate::clips::{self, Clips, Plan, CLASSES, CLIP_LEN, DIGIT, FRAMES, SIDE};

/// The centre of mass of a frame's ink (row, column).
fn centre(frame: &[f32]) -> (f32, f32) {
    let (mut sum, mut y, mut x) = (0.0, 0.0, 0.0);
    for (p, &v) in frame.iter().enumerate() {
        sum += v;
        y += v * (p / SIDE) as f32;
        x += v * (p % SIDE) as f32;
    }
    (y / sum, x / sum)
}

#[test]
fn clips_move_their_digit_the_way_their_class_says() {
    let mnist = cnn::data::mnist::load(&cnn::data::mnist::vendored_dir()).unwrap();
    let set = Clips::new(&mnist.test, 9);
    let (x, labels) = set.batch(0, 40);
    assert_eq!(set.batch(0, 40), (x.clone(), labels.clone()));
    assert_ne!(Clips::new(&mnist.test, 10).batch(0, 40).0, x);
    let mut directions = [0; 4];
    for (i, (clip, &label)) in x.chunks_exact(CLIP_LEN).zip(&labels).enumerate() {
        let m = set.motion(i);
        assert!(label < CLASSES);
        assert_eq!(
            label / 4,
            usize::from(mnist.test.labels[m.digit]),
            "clip {i}"
        );
        assert_eq!(label % 4, m.direction, "clip {i}");
        directions[m.direction] += 1;
        // The digit's box stays in the field in every frame.
        for t in 0..FRAMES {
            let (top, left) = m.at(t);
            let far = (SIDE - DIGIT) as f32 + 1e-3;
            assert!(
                (0.0..=far).contains(&top) && (0.0..=far).contains(&left),
                "clip {i} frame {t}"
            );
        }
        // The ink moves from the first frame to the last by the speed
        // times 15 frames, along the class's direction (within a pixel).
        let frames: Vec<&[f32]> = clip.chunks_exact(SIDE * SIDE).collect();
        let (a, b) = (centre(frames[0]), centre(frames[FRAMES - 1]));
        let d = m.speed * (FRAMES - 1) as f32;
        let want = match m.direction {
            0 => (0.0, d),
            1 => (0.0, -d),
            2 => (d, 0.0),
            _ => (-d, 0.0),
        };
        let moved = (b.0 - a.0, b.1 - a.1);
        assert!(
            (moved.0 - want.0).abs() < 1.0 && (moved.1 - want.1).abs() < 1.0,
            "clip {i}: moved {moved:?}, direction {} by {d}",
            m.direction
        );
        assert!(clip.iter().all(|v| (0.0..=1.0).contains(v)));
    }
    assert!(directions.iter().all(|&n| n > 0), "{directions:?}");
}

#[test]
fn the_example_trains_measures_and_draws_on_a_few_clips() {
    let out = std::env::temp_dir().join(format!("cnn-clips-{}", std::process::id()));
    let plan = Plan {
        epochs: 2,
        clips_per_epoch: 16,
        batch_size: 8,
        learning_rate: 3e-3,
        seed: 5,
        out: out.clone(),
        validation_clips: 8,
        test_clips: 16,
        data: cnn::data::mnist::vendored_dir(),
        verbose: false,
    };
    let report = clips::run(&plan).unwrap();
    assert_eq!(report.model.epoch(), 2);
    let history = &report.model.history().epochs;
    assert_eq!(history.len(), 2);
    assert!(history.iter().all(|e| e.loss.is_finite()));
    assert!((0.0..=1.0).contains(&report.accuracy));
    for file in [
        "c3d_small.safetensors",
        "clips.png",
        "clips_checkpoint.safetensors",
        "history.csv",
        "curves.svg",
    ] {
        assert!(out.join(file).exists(), "{file} missing");
    }
    let csv = std::fs::read_to_string(out.join("history.csv")).unwrap();
    assert_eq!(csv.lines().count(), 3, "{csv}");
    std::fs::remove_dir_all(&out).ok();
}
