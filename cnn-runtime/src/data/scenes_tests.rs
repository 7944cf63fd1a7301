//! Tests of the digit scenes: deterministic by seed, 1-5 digits with
//! boxes tight around their ink and little overlap, train and test scenes
//! from their own digits, a PNG that reads back, and bad settings as
//! `Err`.

use super::*;
use crate::detect::{iou, Anchor};

/// `n` 28x28 "digits": image `i` is a block of ink of `4 + i % 10` rows
/// and columns at `(5, 6)`, labelled `i % 10`.
fn blocks(n: usize) -> LabelledImages {
    let mut images = vec![0u8; n * 28 * 28];
    for i in 0..n {
        let side = 4 + i % 10;
        for y in 5..5 + side {
            for x in 6..6 + side {
                images[i * 784 + y * 28 + x] = 255;
            }
        }
    }
    LabelledImages {
        images,
        labels: (0..n).map(|i| (i % 10) as u8).collect(),
        height: 28,
        width: 28,
        max_value: 255,
        classes: 10,
    }
}

/// Every box lies in the picture, has ink on each of its four edges, and
/// overlaps the others by an IoU of at most `max_iou`.
fn check_scene(scene: &Scene, config: &SceneConfig) {
    let n = scene.objects.len();
    assert!((1..=config.digits.1).contains(&n), "{n} digits");
    let s = scene.size as f32;
    let ink = |x: usize, y: usize| scene.pixels[y * scene.size + x] >= INK;
    for (k, o) in scene.objects.iter().enumerate() {
        let c = o.bbox.corners();
        let px = |v: f32| (v * s).round() as usize;
        let (x1, y1, x2, y2) = (px(c.x1), px(c.y1), px(c.x2), px(c.y2));
        assert!(
            x1 < x2 && y1 < y2 && x2 <= scene.size && y2 <= scene.size,
            "{c:?}"
        );
        assert!(
            (x1..x2).any(|x| ink(x, y1)),
            "object {k}: no ink on the top edge"
        );
        assert!((x1..x2).any(|x| ink(x, y2 - 1)), "object {k}: bottom edge");
        assert!((y1..y2).any(|y| ink(x1, y)), "object {k}: left edge");
        assert!((y1..y2).any(|y| ink(x2 - 1, y)), "object {k}: right edge");
        for other in &scene.objects[k + 1..] {
            assert!(iou(&o.bbox, &other.bbox) <= config.max_iou + 1e-6);
        }
    }
}

#[test]
fn scenes_are_deterministic_by_seed_and_boxes_fit_the_blocks() {
    let digits = blocks(50);
    let config = SceneConfig::default();
    let scenes = Scenes::new(&digits, config, 7).unwrap();
    assert_eq!(scenes.scene(3), scenes.scene(3));
    assert_ne!(scenes.scene(3), scenes.scene(4));
    assert_ne!(
        scenes.scene(3),
        Scenes::new(&digits, config, 8).unwrap().scene(3)
    );
    let mut counts = [0usize; 6];
    for i in 0..200 {
        let scene = scenes.scene(i);
        check_scene(&scene, &config);
        counts[scene.objects.len()] += 1;
        // A block scaled by s: about (4 + class) * s pixels a side, square
        // but for a pixel of resampling.
        for o in &scene.objects {
            let (h, w) = (o.bbox.bh * 96.0, o.bbox.bw * 96.0);
            assert!((h - w).abs() <= 1.01, "{h}x{w}");
            let side = 4.0 + o.class as f32;
            assert!(
                h >= side * 0.5 - 3.0 && h <= side * 2.0 + 3.0,
                "{h} for {side}"
            );
        }
    }
    assert!(
        counts[1..].iter().all(|&c| c > 10),
        "every count 1..=5 occurs: {counts:?}"
    );
}

#[test]
fn mnist_scenes_have_tight_boxes_and_write_a_png() {
    let mnist = super::super::mnist::load(&super::super::mnist::vendored_dir()).unwrap();
    let config = SceneConfig::default();
    let train = Scenes::train(&mnist, config, 1).unwrap();
    let test = Scenes::test(&mnist, config, 1).unwrap();
    assert_eq!(train.classes(), 10);
    for i in 0..50 {
        check_scene(&train.scene(i), &config);
        check_scene(&test.scene(i), &config);
    }
    // Same seed, other digits.
    assert_ne!(train.scene(0).pixels, test.scene(0).pixels);
    let dir = crate::io::test_dir("scenes");
    let path = dir.join("scene.png");
    let scene = train.scene(0);
    let det = Detection {
        bbox: scene.objects[0].bbox,
        score: 0.9,
        class: scene.objects[0].class,
    };
    scene.write_png_with(&path, &[det]).unwrap();
    let image = crate::io::image::read_png(&path).unwrap();
    assert_eq!((image.width, image.height, image.channels), (384, 384, 3));
    // The first box's top-left corner is drawn in its class's colour.
    let c = scene.objects[0].bbox.corners();
    let (x, y) = (
        (c.x1 * 384.0).round() as usize + 1,
        (c.y1 * 384.0).round() as usize + 1,
    );
    let got = &image.data[(y * 384 + x) * 3..][..3];
    let want = PALETTE[scene.objects[0].class];
    for (g, w) in got.iter().zip(want) {
        assert!((g - w).abs() < 1.0 / 255.0 + 1e-6, "{got:?} vs {want:?}");
    }
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn gather_fills_a_batch_and_its_targets() {
    let digits = blocks(30);
    let scenes = Scenes::new(&digits, SceneConfig::default(), 2).unwrap();
    let grid = Grid::new(6, vec![Anchor { h: 0.2, w: 0.2 }], 10).unwrap();
    let mut x = vec![0.0; 2 * 96 * 96];
    let mut t = vec![0.0; 2 * grid.len()];
    scenes.gather(&[5, 9], &grid, &mut x, &mut t).unwrap();
    assert_eq!(&x[96 * 96..], &scenes.scene(9).pixels[..]);
    let back = grid.decode_target(&t[..grid.len()]).unwrap();
    assert!(!back.is_empty() && back.len() <= scenes.scene(5).objects.len());
    assert!(scenes.gather(&[5], &grid, &mut x, &mut t).is_err());
    let small = Grid::new(6, vec![Anchor { h: 0.2, w: 0.2 }], 3).unwrap();
    let mut t3 = vec![0.0; small.len()];
    assert!(scenes
        .gather(&[5], &small, &mut x[..9216], &mut t3)
        .is_err());
}

#[test]
fn bad_settings_are_errors() {
    let digits = blocks(5);
    let ok = SceneConfig::default();
    let too_small = SceneConfig { size: 40, ..ok };
    assert!(Scenes::new(&digits, too_small, 0).is_err());
    assert!(Scenes::new(
        &digits,
        SceneConfig {
            digits: (0, 3),
            ..ok
        },
        0
    )
    .is_err());
    assert!(Scenes::new(
        &digits,
        SceneConfig {
            digits: (4, 3),
            ..ok
        },
        0
    )
    .is_err());
    assert!(Scenes::new(
        &digits,
        SceneConfig {
            scale: (0.0, 1.0),
            ..ok
        },
        0
    )
    .is_err());
    assert!(Scenes::new(&digits, SceneConfig { max_iou: 1.5, ..ok }, 0).is_err());
    assert!(Scenes::new(&digits, SceneConfig { tries: 0, ..ok }, 0).is_err());
    assert!(Scenes::new(&blocks(0), ok, 0).is_err());
}
