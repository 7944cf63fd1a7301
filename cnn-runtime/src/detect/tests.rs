//! Unit tests of `detect` on hand-made cases: IoU identities, the NMS tie
//! at exactly the threshold, soft-NMS decay, the grid check, the encoder
//! and decoder round trip, k-means on known clusters, the YOLO loss by
//! finite differences, AP by hand, and malformed input as `Err`.

use super::grid::logit;
use super::*;
use crate::loss::{Loss, Target};
use crate::rng::Rng;
use crate::testing::{gradcheck, random};

fn det(bbox: BBox, score: f32, class: usize) -> Detection {
    Detection { bbox, score, class }
}

fn corners(x1: f32, y1: f32, x2: f32, y2: f32) -> BBox {
    Corners::new(x1, y1, x2, y2).bbox()
}

// ---------------------------------------------------------------- boxes

#[test]
fn iou_identities() {
    let a = BBox::new(0.3, 0.4, 0.2, 0.1);
    assert_eq!(iou(&a, &a), 1.0, "identical");
    let far = BBox::new(0.8, 0.8, 0.1, 0.1);
    assert_eq!(iou(&a, &far), 0.0, "disjoint");
    // Sharing an edge only: no area in common.
    assert_eq!(
        iou(&corners(0.0, 0.0, 0.5, 0.5), &corners(0.5, 0.0, 1.0, 0.5)),
        0.0
    );
    // Containment: the small area over the large one, 0.25 / 1.
    let big = corners(0.0, 0.0, 1.0, 1.0);
    let small = corners(0.25, 0.25, 0.75, 0.75);
    assert_eq!(iou(&big, &small), 0.25);
    assert_eq!(iou(&small, &big), 0.25, "symmetric");
    // Two empty boxes: 0, not NaN.
    let dot = BBox::new(0.5, 0.5, 0.0, 0.0);
    assert_eq!(iou(&dot, &dot), 0.0);
    // Half-overlapping squares: 1 / 3 (intersection 1/2, union 3/2).
    let b = corners(0.0, 0.0, 0.2, 0.2);
    let c = corners(0.1, 0.0, 0.3, 0.2);
    assert!((iou(&b, &c) - 1.0 / 3.0).abs() < 1e-6);
}

#[test]
fn corners_round_trip_and_scale() {
    let b = BBox::new(0.5, 0.25, 0.5, 0.25);
    let c = b.corners();
    assert_eq!(c, Corners::new(0.375, 0.0, 0.625, 0.5));
    assert_eq!(c.bbox(), b);
    assert_eq!(
        c.scaled(720.0, 1280.0),
        Corners::new(480.0, 0.0, 800.0, 360.0)
    );
    assert_eq!(
        shape_iou((0.2, 0.4), (0.4, 0.2)),
        0.04 / (0.08 + 0.08 - 0.04)
    );
    assert!(BBox::new(0.5, 0.5, -0.1, 0.1).checked("t").is_err());
    assert!(BBox::new(f32::NAN, 0.5, 0.1, 0.1).checked("t").is_err());
}

// ------------------------------------------------------------------ NMS

/// A box and its left half: IoU exactly 0.5 in `f32` (0.5 / 1).
fn half_pair() -> (BBox, BBox) {
    (corners(0.0, 0.0, 1.0, 1.0), corners(0.0, 0.0, 0.5, 1.0))
}

#[test]
fn nms_drops_a_box_at_exactly_the_threshold() {
    let (a, b) = half_pair();
    assert_eq!(iou(&a, &b), 0.5);
    let dets = [det(b, 0.8, 0), det(a, 0.9, 0)];
    // IoU 0.5 >= 0.5: the worse box goes (the course's "at least").
    assert_eq!(nms(&dets, 0.6, 0.5).unwrap(), vec![dets[1]]);
    // Just above the IoU, both stay; the best comes first.
    assert_eq!(nms(&dets, 0.6, 0.500_001).unwrap(), vec![dets[1], dets[0]]);
    // A score of exactly 0.6 is dropped (pc <= 0.6 goes).
    let at = [det(a, 0.6, 0), det(far_box(), 0.61, 0)];
    assert_eq!(nms(&at, 0.6, 0.5).unwrap(), vec![at[1]]);
}

/// A box that meets none of the others (outside the picture: suppression
/// does not mind).
fn far_box() -> BBox {
    BBox::new(2.0, 2.0, 0.1, 0.1)
}

#[test]
fn nms_is_per_class_and_suppress_can_cap_and_cross_classes() {
    let (a, b) = half_pair();
    let dets = [det(a, 0.9, 0), det(b, 0.8, 1), det(far_box(), 0.7, 1)];
    assert_eq!(nms(&dets, 0.6, 0.5).unwrap().len(), 3, "other classes stay");
    assert_eq!(suppress(&dets, 0.5, false, None).unwrap(), vec![0, 2]);
    assert_eq!(suppress(&dets, 0.5, true, Some(2)).unwrap(), vec![0, 1]);
    // Equal scores keep the input order.
    let tied = [det(b, 0.7, 0), det(a, 0.7, 0)];
    assert_eq!(suppress(&tied, 0.5, true, None).unwrap(), vec![0]);
}

#[test]
fn soft_nms_decays_by_a_gaussian_of_the_iou() {
    let (a, b) = half_pair();
    let dets = [
        det(a, 0.9, 0),
        det(b, 0.8, 0),
        det(b, 0.8, 1),
        det(far_box(), 0.5, 0),
    ];
    let out = soft_nms(&dets, 0.5, 0.001).unwrap();
    assert_eq!(out.len(), 4);
    assert_eq!(out[0], dets[0]);
    // Other class and disjoint box: untouched.
    assert_eq!(out[1], dets[2]);
    assert_eq!(out[2], dets[3]);
    // IoU 0.5 with the best: 0.8 * exp(-0.25 / 0.5) (Bodla et al., eq. 3).
    assert_eq!(out[3].bbox, b);
    assert!((out[3].score - 0.8 * (-0.5f32).exp()).abs() < 1e-6);
    // Above the decayed score, the threshold drops it.
    assert_eq!(soft_nms(&dets, 0.5, 0.49).unwrap().len(), 3);
}

#[test]
fn suppression_refuses_malformed_input() {
    let ok = det(far_box(), 0.9, 0);
    let nan = det(far_box(), f32::NAN, 0);
    let neg = det(BBox::new(0.5, 0.5, -1.0, 0.1), 0.9, 0);
    assert!(nms(&[ok, nan], 0.6, 0.5).is_err());
    assert!(nms(&[ok, neg], 0.6, 0.5).is_err());
    assert!(nms(&[ok], f32::NAN, 0.5).is_err());
    assert!(suppress(&[ok], f32::INFINITY, false, None).is_err());
    assert!(soft_nms(&[ok], 0.0, 0.1).is_err());
    assert!(soft_nms(&[nan], 0.5, 0.1).is_err());
    assert_eq!(nms(&[], 0.6, 0.5).unwrap(), vec![]);
}

// --------------------------------------------------------- the grid check

// The check runs at compile time where it is meant to.
const _: () = assert_grid([19, 19, 425], 19, 5, 80);
const _: () = assert_grid([3 * 3 * 2 * 8], 3, 2, 3);

#[test]
fn check_grid_shows_the_sum() {
    assert!(check_grid(&[19, 19, 425], 19, 5, 80).is_ok());
    assert!(check_grid(&[153_425], 19, 5, 80).is_ok());
    let m = check_grid(&[19, 19, 400], 19, 5, 80).unwrap_err();
    assert_eq!(
        m.as_str(),
        "detect: the network ends in 19x19x400 but a 19x19 grid with 5 anchors and 80 classes \
         needs 19x19x425 (A(5 + K) = 5*(5 + 80) = 425)\n  = help: end the network in a 19x19 map \
         with 425 channels (a 1x1 Conv2d with 425 filters)"
    );
    let m = check_grid(&[13, 13, 425], 19, 5, 80).unwrap_err();
    assert!(m
        .as_str()
        .starts_with("detect: the network ends in 13x13x425 but"));
    let m = check_grid(&[100], 3, 2, 3).unwrap_err();
    assert!(
        m.as_str()
            .contains("needs 144 (S*S*A(5 + K) = 3*3*2*(5 + 3) = 144)"),
        "{m}"
    );
    let m = check_grid(&[3, 48], 3, 2, 3).unwrap_err();
    assert_eq!(
        m.as_str(),
        "detect: the network's output has rank 2 but a YOLO grid needs [S, S, A(5 + K)]"
    );
    assert!(check_grid(&[0, 0, 5], 0, 1, 1)
        .unwrap_err()
        .as_str()
        .contains("S = 0"));
    assert!(check_grid(&[1, 1, 1], 1, usize::MAX, 1)
        .unwrap_err()
        .as_str()
        .contains("overflows"));
    assert_eq!(grid_channels(5, 80), Some(425));
}

#[test]
#[should_panic(expected = "needs 19x19x425")]
fn assert_grid_panics_at_run_time_too() {
    assert_grid([19, 19, 400], 19, 5, 80);
}

// ------------------------------------------------------------------ grid

fn small_grid() -> Grid {
    let anchors = vec![Anchor { h: 0.3, w: 0.15 }, Anchor { h: 0.15, w: 0.3 }];
    Grid::new(4, anchors, 3).unwrap()
}

#[test]
fn grid_refuses_bad_sizes() {
    let a = vec![Anchor { h: 0.1, w: 0.1 }];
    assert!(Grid::new(0, a.clone(), 3).is_err());
    assert!(Grid::new(4, vec![], 3).is_err());
    assert!(Grid::new(4, a, 0).is_err());
    assert!(Grid::new(4, vec![Anchor { h: -0.1, w: 0.1 }], 3).is_err());
    assert!(Grid::new(usize::MAX, vec![Anchor { h: 0.1, w: 0.1 }], 3).is_err());
}

#[test]
fn objects_go_to_the_cell_of_their_midpoint_and_the_best_anchor() {
    let g = small_grid();
    // Tall box, midpoint in row 2 (y 0.6 * 4 = 2.4), column 0.
    assert_eq!(g.assign(&BBox::new(0.1, 0.6, 0.3, 0.1)).unwrap(), (2, 0, 0));
    // Wide box on the bottom-right edge: the last cell.
    assert_eq!(g.assign(&BBox::new(1.0, 1.0, 0.1, 0.3)).unwrap(), (3, 3, 1));
    assert!(g.assign(&BBox::new(1.1, 0.5, 0.1, 0.1)).is_err());
    assert!(g.assign(&BBox::new(0.5, 0.5, 0.0, 0.1)).is_err());
    let t = g
        .encode(&[Object {
            bbox: BBox::new(0.1, 0.6, 0.3, 0.1),
            class: 2,
        }])
        .unwrap();
    let at = g.index(2, 0, 0, 0);
    let want = [1.0, 0.4, 0.4, 1.0, 0.1 / 0.15, 0.0, 0.0, 1.0];
    crate::testing::assert_close(&t[at..at + 8], &want, 1e-5, 1e-6);
    assert_eq!(t.iter().filter(|&&v| v != 0.0).count(), 6);
}

/// A raw output that decodes to the objects of `target`: large logits
/// where the target says so, the inverse activations for the box.
fn output_for(g: &Grid, target: &[f32]) -> Vec<f32> {
    let mut out = vec![-12.0; target.len()];
    for (o, t) in out
        .chunks_exact_mut(g.per_anchor())
        .zip(target.chunks_exact(g.per_anchor()))
    {
        if t[0] == 1.0 {
            o[0] = 12.0;
            o[1] = logit(t[1]);
            o[2] = logit(t[2]);
            o[3] = t[3].ln();
            o[4] = t[4].ln();
            for (z, &c) in o[5..].iter_mut().zip(&t[5..]) {
                *z = if c == 1.0 { 12.0 } else { -12.0 };
            }
        }
    }
    out
}

#[test]
fn encode_then_decode_gives_the_objects_back() {
    let g = small_grid();
    let mut rng = Rng::new(5);
    let mut objects = Vec::new();
    // One object per cell of a random subset, away from the cell edges.
    for row in 0..4 {
        for col in 0..4 {
            if rng.uniform() < 0.5 {
                continue;
            }
            let bbox = BBox::new(
                (col as f32 + rng.uniform_in(0.1, 0.9)) / 4.0,
                (row as f32 + rng.uniform_in(0.1, 0.9)) / 4.0,
                rng.uniform_in(0.05, 0.5),
                rng.uniform_in(0.05, 0.5),
            );
            objects.push(Object {
                bbox,
                class: rng.below(3),
            });
        }
    }
    let target = g.encode(&objects).unwrap();
    let back = g.decode_target(&target).unwrap();
    assert_eq!(back.len(), objects.len());
    let out = output_for(&g, &target);
    let params = Decode {
        iou_threshold: 1.1,
        ..Decode::COURSE
    };
    let found = g.decode(&out, &params).unwrap();
    assert_eq!(found.len(), objects.len());
    for o in &objects {
        let b = back
            .iter()
            .find(|b| iou(&b.bbox, &o.bbox) > 0.999)
            .expect("from the target");
        assert_eq!(b.class, o.class);
        let d = found
            .iter()
            .find(|d| iou(&d.bbox, &o.bbox) > 0.999)
            .expect("decoded");
        assert_eq!(d.class, o.class);
        assert!(d.score > 0.99);
    }
}

#[test]
fn encode_reports_a_taken_slot_and_refuses_bad_objects() {
    let g = small_grid();
    let a = Object {
        bbox: BBox::new(0.1, 0.1, 0.3, 0.1),
        class: 0,
    };
    let b = Object {
        bbox: BBox::new(0.15, 0.12, 0.25, 0.1),
        class: 1,
    };
    let mut t = vec![0.0; g.len()];
    assert_eq!(g.encode_into(&[a, b], &mut t).unwrap(), vec![1]);
    let bad_class = Object { class: 3, ..a };
    assert!(matches!(
        g.encode(&[a, bad_class]),
        Err(crate::Error::LabelOutOfRange { index: 1, .. })
    ));
    let outside = Object {
        bbox: BBox::new(-0.1, 0.5, 0.1, 0.1),
        class: 0,
    };
    assert!(g.encode(&[outside]).is_err());
    let mut before = vec![7.0; g.len()];
    assert!(g.encode_into(&[a, outside], &mut before).is_err());
    assert!(before.iter().all(|&v| v == 7.0), "nothing written on error");
    assert!(g.encode_into(&[a], &mut [0.0; 3]).is_err());
}

#[test]
fn decode_refuses_malformed_output() {
    let g = small_grid();
    assert!(g.decode(&[0.0; 5], &Decode::COURSE).is_err());
    let mut out = vec![0.0; g.len()];
    out[17] = f32::NAN;
    assert!(g.decode(&out, &Decode::COURSE).is_err());
    out[17] = 0.0;
    let bad = Decode {
        score_threshold: f32::NAN,
        ..Decode::COURSE
    };
    assert!(g.decode(&out, &bad).is_err());
    // All-zero logits: pc 0.5 times 1/3 is below 0.6.
    assert!(g.decode(&out, &Decode::COURSE).unwrap().is_empty());
    // A huge but finite size logit decodes to a huge box, not an error.
    out[g.index(0, 0, 0, 3)] = 1e30;
    let all = g.boxes(&out).unwrap();
    assert!(all[0].bbox.bh.is_finite() && all[0].bbox.bh > 1e10);
    assert!(g.decode_target(&out[1..]).is_err());
}

// --------------------------------------------------------------- anchors

#[test]
fn kmeans_finds_known_clusters() {
    let centres = [(0.1, 0.1), (0.3, 0.15), (0.15, 0.5)];
    let mut rng = Rng::new(11);
    let shapes: Vec<(f32, f32)> = (0..300)
        .map(|i| {
            let (h, w) = centres[i % 3];
            (h * rng.uniform_in(0.9, 1.1), w * rng.uniform_in(0.9, 1.1))
        })
        .collect();
    let fit = kmeans_anchors(&shapes, 3, 1, 100).unwrap();
    // By increasing area: 0.01, 0.045, 0.075.
    for (a, &(h, w)) in fit.anchors.iter().zip(&centres) {
        assert!(
            (a.h - h).abs() < 0.01 && (a.w - w).abs() < 0.01,
            "{a:?} vs {h}x{w}"
        );
    }
    assert!(fit.mean_iou > 0.85, "{}", fit.mean_iou);
    assert!(fit.iterations < 100);
    assert_eq!(
        kmeans_anchors(&shapes, 3, 1, 100).unwrap(),
        fit,
        "same seed, same anchors"
    );
    // k = n puts an anchor on every box.
    assert!((kmeans_anchors(&shapes[..3], 3, 2, 10).unwrap().mean_iou - 1.0).abs() < 1e-6);
}

#[test]
fn kmeans_refuses_bad_input() {
    let shapes = [(0.1, 0.1), (0.2, 0.2)];
    assert!(kmeans_anchors(&shapes, 0, 1, 10).is_err());
    assert!(kmeans_anchors(&shapes, 3, 1, 10).is_err());
    assert!(kmeans_anchors(&[(0.1, 0.0)], 1, 1, 10).is_err());
    assert!(kmeans_anchors(&[(f32::NAN, 0.1)], 1, 1, 10).is_err());
}

// ------------------------------------------------------------------ loss

#[test]
fn yolo_loss_by_hand() {
    // One cell, one anchor, two classes, zero logits: sigmoid 0.5, exp 1,
    // softmax 1/2. An object at the cell's centre with the anchor's size
    // costs ln 2 (pc) + ln 2 (class), coordinates 0.
    let g = Grid::new(1, vec![Anchor { h: 0.5, w: 0.5 }], 2).unwrap();
    let loss = YoloLoss::new(g.clone());
    let target = g
        .encode(&[Object {
            bbox: BBox::new(0.5, 0.5, 0.5, 0.5),
            class: 0,
        }])
        .unwrap();
    let out = [0.0; 7];
    let mut grad = [0.0; 7];
    let l = loss
        .loss(&out, &g.shape(), Target::Values(&target), &mut grad)
        .unwrap();
    assert!((l - 2.0 * 2f32.ln()).abs() < 1e-6, "{l}");
    // No object: lambda_noobj * ln 2.
    let l = loss
        .loss(&out, &g.shape(), Target::Values(&[0.0; 7]), &mut grad)
        .unwrap();
    assert!((l - 0.5 * 2f32.ln()).abs() < 1e-6, "{l}");
    assert_eq!(grad, [0.25, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]);
}

#[test]
fn yolo_loss_gradient_by_finite_differences() {
    let g = Grid::new(
        2,
        vec![Anchor { h: 0.3, w: 0.2 }, Anchor { h: 0.2, w: 0.5 }],
        3,
    )
    .unwrap();
    let mut loss = YoloLoss::new(g.clone());
    loss.lambda_obj = 1.5;
    loss.lambda_class = 0.7;
    let pictures = [
        vec![
            Object {
                bbox: BBox::new(0.2, 0.3, 0.4, 0.2),
                class: 1,
            },
            Object {
                bbox: BBox::new(0.7, 0.6, 0.1, 0.6),
                class: 2,
            },
        ],
        vec![Object {
            bbox: BBox::new(0.55, 0.2, 0.25, 0.25),
            class: 0,
        }],
        vec![],
    ];
    let target: Vec<f32> = pictures.iter().flat_map(|p| g.encode(p).unwrap()).collect();
    let mut out: Vec<f32> = random(target.len(), 3).iter().map(|v| 2.0 * v).collect();
    let mut grad = vec![f32::NAN; out.len()];
    let shape = g.shape();
    loss.loss(&out, &shape, Target::Values(&target), &mut grad)
        .unwrap();
    let mut scratch = vec![0.0; out.len()];
    gradcheck(&mut out, &grad, 1e-2, 2e-3, None, |x| {
        loss.loss(x, &shape, Target::Values(&target), &mut scratch)
            .unwrap() as f64
    });
}

#[test]
fn yolo_loss_refuses_malformed_input_and_leaves_grad_alone() {
    let g = small_grid();
    let loss = YoloLoss::new(g.clone());
    let out = vec![0.0; 2 * g.len()];
    let good = [g.encode(&[]).unwrap(), g.encode(&[]).unwrap()].concat();
    let mut grad = vec![7.0; out.len()];
    let shape = g.shape();
    let mut bad_pc = good.clone();
    bad_pc[0] = 0.5;
    let mut bad_size = good.clone();
    bad_size[0] = 1.0;
    bad_size[5] = 1.0;
    let cases: Vec<(Vec<usize>, Target<'_>, usize)> = vec![
        (shape.to_vec(), Target::Classes(&[0, 1]), out.len()),
        (shape.to_vec(), Target::Values(&good[1..]), out.len()),
        (shape.to_vec(), Target::Values(&bad_pc), out.len()),
        (shape.to_vec(), Target::Values(&bad_size), out.len()),
        (vec![4, 4, 15], Target::Values(&good), out.len()),
        (shape.to_vec(), Target::Values(&good), out.len() - 1),
    ];
    for (i, (shape, target, grad_len)) in cases.into_iter().enumerate() {
        let r = loss.loss(&out, &shape, target, &mut grad[..grad_len]);
        assert!(r.is_err(), "case {i}");
        assert!(grad.iter().all(|&v| v == 7.0), "case {i} wrote grad");
    }
    assert!(loss
        .loss(
            &out[1..],
            &shape,
            Target::Values(&good[1..]),
            &mut grad[1..]
        )
        .is_err());
    assert!(loss
        .loss(&out, &shape, Target::Values(&good), &mut grad)
        .is_ok());
}

// -------------------------------------------------------------------- AP

fn gt(bbox: BBox, class: usize) -> Object {
    Object { bbox, class }
}

/// One picture, two true boxes of class 0; detections by score: a hit, a
/// miss, a hit. Recall 1/2, 1/2, 1; precision 1, 1/2, 2/3.
fn hand_case() -> (Vec<Vec<Object>>, Vec<Vec<Detection>>) {
    let (a, b) = (corners(0.0, 0.0, 0.2, 0.2), corners(0.5, 0.5, 0.9, 0.9));
    let truths = vec![vec![gt(a, 0), gt(b, 0)]];
    let dets = vec![vec![det(b, 0.7, 0), det(a, 0.9, 0), det(far_box(), 0.8, 0)]];
    (truths, dets)
}

#[test]
fn average_precision_by_hand() {
    // All-point: 0.5 * 1 + 0.5 * 2/3 (the precision at recall 1/2 is
    // raised to nothing: 1 is already the best at or after it).
    let ap = average_precision(&[0.5, 0.5, 1.0], &[1.0, 0.5, 2.0 / 3.0]).unwrap();
    assert!((ap - (0.5 + 1.0 / 3.0)).abs() < 1e-12);
    assert_eq!(average_precision(&[], &[]).unwrap(), 0.0);
    assert!(average_precision(&[0.5, 0.4], &[1.0, 1.0]).is_err());
    assert!(average_precision(&[0.5], &[1.0, 1.0]).is_err());
}

#[test]
fn voc_and_coco_by_hand() {
    let (truths, dets) = hand_case();
    let voc = voc_map(&truths, &dets, 2, 0.5).unwrap();
    assert!((voc.per_class[0].unwrap() - 5.0 / 6.0).abs() < 1e-12);
    assert_eq!(voc.per_class[1], None, "no true object of class 1");
    assert_eq!(voc.map, voc.per_class[0]);
    // COCO at every threshold (the hits have IoU 1): monotone precision
    // 1, 2/3, 2/3; recall points 0..=0.5 read 1 (51 of them), the 50
    // above read 2/3.
    let coco = coco_map(&truths, &dets, 2).unwrap();
    let want = (51.0 + 50.0 * 2.0 / 3.0) / 101.0;
    assert!((coco.ap.unwrap() - want).abs() < 1e-12);
    assert_eq!(coco.per_threshold.len(), 10);
    assert_eq!(coco.ap50, coco.ap75);
    assert_eq!(coco.per_class[1], None);
}

#[test]
fn a_second_hit_on_a_taken_box_is_a_false_positive() {
    let a = corners(0.0, 0.0, 0.2, 0.2);
    let truths = vec![vec![gt(a, 0)], vec![]];
    let dets = vec![vec![det(a, 0.9, 0), det(a, 0.8, 0)], vec![det(a, 0.95, 1)]];
    // Recall 1 at precision 1 first: AP 1, the duplicate changes nothing.
    let voc = voc_map(&truths, &dets, 2, 0.5).unwrap();
    assert_eq!(voc.per_class, vec![Some(1.0), None]);
    // A class with detections but no truth has no AP and is left out.
    // (Precision is tp / (tp + fp + eps) in pycocotools: 1 - 2e-16.)
    let ap = coco_map(&truths, &dets, 2).unwrap().ap.unwrap();
    assert!((ap - 1.0).abs() < 1e-12, "{ap}");
    // Missed entirely: 0.
    let none = vec![vec![], vec![]];
    assert_eq!(voc_map(&truths, &none, 2, 0.5).unwrap().map, Some(0.0));
    assert_eq!(coco_map(&truths, &none, 2).unwrap().ap, Some(0.0));
    // Nothing true at all: no mean.
    assert_eq!(coco_map(&none_objects(), &none, 2).unwrap().ap, None);
}

fn none_objects() -> Vec<Vec<Object>> {
    vec![vec![], vec![]]
}

#[test]
fn evaluation_refuses_malformed_input() {
    let (truths, dets) = hand_case();
    assert!(voc_map(&truths, &[], 2, 0.5).is_err());
    assert!(coco_map(&truths, &dets, 0).is_err());
    let mut nan = dets.clone();
    nan[0][0].score = f32::NAN;
    assert!(coco_map(&truths, &nan, 2).is_err());
    let mut neg = truths.clone();
    neg[0][0].bbox.bw = -0.1;
    assert!(voc_map(&neg, &dets, 2, 0.5).is_err());
}
