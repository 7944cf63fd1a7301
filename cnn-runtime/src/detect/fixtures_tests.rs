//! `detect` against other implementations, on fixtures that
//! `scripts/make_detect_fixtures.py` made and that are committed in
//! `tests/fixtures/detect/`: IoU and NMS against torchvision, COCO AP
//! against pycocotools and VOC AP against a port of the devkit, and the
//! course's car-detection assignment (`yolo_eval`) on a random
//! 19x19x5x85 volume. No Python runs at test time.

use super::*;
use crate::io::Checkpoint;

fn fixture(name: &str) -> Checkpoint {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/fixtures/detect/");
    crate::io::load(std::path::Path::new(&format!("{path}{name}"))).unwrap()
}

fn tensor(f: &Checkpoint, name: &str) -> (Vec<usize>, Vec<f32>) {
    let (shape, values) = f.tensor(name).unwrap();
    (shape.to_vec(), values)
}

fn rows(values: &[f32], n: usize) -> Vec<&[f32]> {
    values.chunks_exact(n).collect()
}

fn corners_of(r: &[f32]) -> Corners {
    Corners::new(r[0], r[1], r[2], r[3])
}

#[test]
fn iou_matches_torchvision_box_iou() {
    let f = fixture("iou_nms.safetensors");
    let (_, a) = tensor(&f, "iou_a");
    let (_, b) = tensor(&f, "iou_b");
    let (shape, want) = tensor(&f, "iou");
    assert_eq!(shape, [40, 30]);
    let (a, b) = (rows(&a, 4), rows(&b, 4));
    for (i, ra) in a.iter().enumerate() {
        for (j, rb) in b.iter().enumerate() {
            let w = want[i * b.len() + j];
            let got = iou_corners(&corners_of(ra), &corners_of(rb));
            assert!((got - w).abs() < 1e-6, "({i}, {j}): {got} vs {w}");
            // Through the course's form and back: a rounding more.
            let via = iou(&corners_of(ra).bbox(), &corners_of(rb).bbox());
            assert!((via - w).abs() < 1e-5, "({i}, {j}) via BBox: {via} vs {w}");
        }
    }
}

#[test]
fn suppression_matches_torchvision_nms_and_batched_nms() {
    let f = fixture("iou_nms.safetensors");
    let (_, boxes) = tensor(&f, "nms_boxes");
    let (_, scores) = tensor(&f, "nms_scores");
    let (_, classes) = tensor(&f, "nms_classes");
    let dets: Vec<Detection> = rows(&boxes, 4)
        .iter()
        .zip(&scores)
        .zip(&classes)
        .map(|((r, &score), &c)| Detection {
            bbox: corners_of(r).bbox(),
            score,
            class: c as usize,
        })
        .collect();
    let as_usize = |v: Vec<f32>| v.into_iter().map(|x| x as usize).collect::<Vec<_>>();
    // No IoU in the fixture is within 1e-4 of 0.5, so `>=` and
    // torchvision's `>` agree.
    let keep = as_usize(tensor(&f, "nms_keep").1);
    assert_eq!(suppress(&dets, 0.5, false, None).unwrap(), keep);
    let per_class = as_usize(tensor(&f, "nms_keep_per_class").1);
    assert_eq!(suppress(&dets, 0.5, true, None).unwrap(), per_class);
    assert!(keep.len() < dets.len() && per_class.len() > keep.len());
}

/// The fixture's pictures as per-picture lists.
fn ap_sets(f: &Checkpoint, pictures: usize) -> (Vec<Vec<Object>>, Vec<Vec<Detection>>) {
    let (_, gt) = tensor(f, "gt");
    let (_, dt) = tensor(f, "dt");
    let mut truths = vec![Vec::new(); pictures];
    for r in rows(&gt, 6) {
        truths[r[0] as usize].push(Object {
            bbox: corners_of(&r[2..]).bbox(),
            class: r[1] as usize,
        });
    }
    let mut dets = vec![Vec::new(); pictures];
    for r in rows(&dt, 7) {
        dets[r[0] as usize].push(Detection {
            bbox: corners_of(&r[3..]).bbox(),
            score: r[2],
            class: r[1] as usize,
        });
    }
    (truths, dets)
}

#[track_caller]
fn assert_ap(got: Option<f64>, want: f32, what: &str) {
    match got {
        None => assert!(want.is_nan(), "{what}: no AP, pycocotools {want}"),
        Some(g) => assert!((g - want as f64).abs() < 1e-4, "{what}: {g} vs {want}"),
    }
}

#[test]
fn coco_and_voc_ap_match_pycocotools_and_the_devkit() {
    let f = fixture("ap.safetensors");
    let pictures: usize = f.metadata("pictures").unwrap().parse().unwrap();
    let classes: usize = f.metadata("classes").unwrap().parse().unwrap();
    let (truths, dets) = ap_sets(&f, pictures);
    let coco = coco_map(&truths, &dets, classes).unwrap();
    let (_, want) = tensor(&f, "coco_ap");
    assert_ap(coco.ap, want[0], "AP@[.50:.95]");
    assert_ap(coco.ap50, want[1], "AP50");
    assert_ap(coco.ap75, want[2], "AP75");
    let (_, want) = tensor(&f, "coco_per_class");
    for (k, (&g, &w)) in coco.per_class.iter().zip(&want).enumerate() {
        assert_ap(g, w, &format!("COCO class {k}"));
    }
    let voc = voc_map(&truths, &dets, classes, 0.5).unwrap();
    let (_, want) = tensor(&f, "voc_per_class");
    for (k, (&g, &w)) in voc.per_class.iter().zip(&want).enumerate() {
        assert_ap(g, w, &format!("VOC class {k}"));
    }
    // The fixture has a class without truths (4) and one never detected (3).
    assert_eq!(voc.per_class[4], None);
    assert_eq!(voc.per_class[3], Some(0.0));
}

#[test]
fn the_car_detection_assignment_keeps_the_same_boxes() {
    let f = fixture("car.safetensors");
    let (shape, volume) = tensor(&f, "volume");
    assert_eq!(shape, [19, 19, 5, 85]);
    let (_, anchors) = tensor(&f, "anchors");
    let anchors = rows(&anchors, 2)
        .iter()
        .map(|r| Anchor { h: r[0], w: r[1] })
        .collect();
    let grid = Grid::new(19, anchors, 80).unwrap();
    assert_grid([19, 19, 425], 19, 5, 80);
    let found = grid.decode(&volume, &Decode::ASSIGNMENT).unwrap();
    let (_, boxes) = tensor(&f, "boxes");
    let (_, scores) = tensor(&f, "scores");
    let (_, classes) = tensor(&f, "classes");
    assert_eq!(found.len(), scores.len());
    assert_eq!(found.len(), 10, "the cap of 10 boxes");
    for (i, (d, r)) in found.iter().zip(rows(&boxes, 4)).enumerate() {
        let px = d.bbox.corners().scaled(720.0, 1280.0);
        let got = [px.x1, px.y1, px.x2, px.y2];
        crate::testing::assert_close(&got, r, 1e-5, 0.02);
        assert!(
            (d.score - scores[i]).abs() < 1e-5,
            "box {i}: score {} vs {}",
            d.score,
            scores[i]
        );
        assert_eq!(d.class, classes[i] as usize, "box {i}");
    }
}
