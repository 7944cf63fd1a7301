//! Verification, recognition and the sampler on hand-built data: ROC
//! points, thresholds and rates worked out in the comments, the SVG's
//! parts, the gallery's file (round trip and every kind of damage), and
//! the P x K batches' composition.

use super::*;
use crate::error::Error;
use crate::io::test_dir;
use std::fs;

#[test]
fn roc_counts_each_distinct_distance_once() {
    // Sorted: 0.1 s, 0.2 s, 0.2 d (a tie), 0.5 s, 0.7 d.
    let r = roc(&[0.5, 0.1, 0.2], &[0.7, 0.2]).unwrap();
    assert_eq!(r.thresholds(), &[f32::NEG_INFINITY, 0.1, 0.2, 0.5, 0.7]);
    let pts: Vec<(f64, f64)> = r.points().collect();
    let third = 1.0 / 3.0;
    assert_eq!(
        pts,
        [
            (0.0, 0.0),
            (0.0, third),
            (0.5, 2.0 * third),
            (0.5, 1.0),
            (1.0, 1.0)
        ]
    );
    assert_eq!(r.pairs(), (3, 2));
    // Trapezoids: 0.5 * (1/3 + 2/3) / 2 + 0.5 * (1 + 1) / 2.
    assert!((r.auc() - 0.75).abs() < 1e-12);
    assert!(roc(&[], &[1.0]).is_err());
    let err = roc(&[0.1], &[0.3, f32::NAN]).unwrap_err();
    assert!(err.to_string().contains("different pair 1 is NaN"), "{err}");
}

#[test]
fn best_threshold_maximises_accuracy_halfway_between_distances() {
    // Same pairs at 0.1..0.4, different at 0.25 and 0.6..0.9: accepting up
    // to 0.4 gets all 4 same and 4 of 5 different right (8 / 9); any
    // other threshold does worse.
    let same = [0.1, 0.2, 0.3, 0.4];
    let different = [0.25, 0.6, 0.7, 0.8, 0.9];
    let best = roc(&same, &different).unwrap().best_threshold();
    assert!((best.threshold - 0.5).abs() < 1e-6, "{best:?}"); // halfway from 0.4 to 0.6
    assert!((best.accuracy - 8.0 / 9.0).abs() < 1e-12);
    assert_eq!((best.tar, best.far), (1.0, 0.2));
    // The same decisions on these pairs as accuracy_at gives.
    assert_eq!(
        accuracy_at(&same, &different, best.threshold).unwrap(),
        best.accuracy
    );
    // Ties between thresholds go to the smallest; all rejected is a candidate.
    let r = roc(&[0.9], &[0.1, 0.2]).unwrap();
    assert_eq!(r.best_threshold().threshold, f32::NEG_INFINITY);
    assert_eq!(r.best_threshold().accuracy, 2.0 / 3.0);
}

#[test]
fn tar_at_far_reads_the_last_step_within_the_rate() {
    // 100 same pairs at 0.00, 0.01, .., 0.99; 2000 different pairs at
    // 0.500, 0.501, .., 2.499. A FAR of at most 1e-3 accepts at most 2
    // different pairs: the threshold 0.501, where the same pairs 0.00 to
    // 0.50 are accepted: TAR 51 / 100.
    let same: Vec<f32> = (0..100).map(|i| i as f32 / 100.0).collect();
    let different: Vec<f32> = (0..2000).map(|i| 0.5 + i as f32 / 1000.0).collect();
    let r = roc(&same, &different).unwrap();
    let p = r.tar_at_far(1e-3);
    assert_eq!((p.tar, p.far), (0.51, 1e-3));
    assert!(p.threshold > 0.501 && p.threshold < 0.502, "{p:?}");
    // With too few different pairs a FAR of 1e-3 is a FAR of 0.
    let small = roc(&[0.1, 0.3, 0.5], &[0.2, 0.9]).unwrap();
    let p = small.tar_at_far(1e-3);
    assert_eq!((p.tar, p.far), (1.0 / 3.0, 0.0));
    // Perfect separation: TAR 1 at FAR 0, area 1.
    let perfect = roc(&[0.1, 0.2], &[0.3, 0.4]).unwrap();
    assert_eq!(perfect.tar_at_far(1e-3).tar, 1.0);
    assert_eq!(perfect.auc(), 1.0);
}

#[test]
fn roc_svg_has_axes_labels_and_the_curve() {
    let r = roc(&[0.1, 0.3, 0.5], &[0.2, 0.9, 1.4]).unwrap();
    let svg = r.svg("glyphs <val>");
    for part in [
        "<svg",
        "false accept rate",
        "true accept rate",
        "<polyline",
        "stroke-dasharray",
        "glyphs &lt;val&gt;",
        "AUC 0.7778",
        "</svg>",
    ] {
        assert!(svg.contains(part), "no {part:?} in\n{svg}");
    }
    // Five points: the accept-nothing point and one per distance.
    let curve = svg.lines().find(|l| l.starts_with("<polyline")).unwrap();
    assert_eq!(curve.matches(',').count(), 7);
    let dir = test_dir("roc-svg");
    let path = dir.join("roc.svg");
    r.write_svg("roc", &path).unwrap();
    assert!(fs::read_to_string(&path).unwrap().ends_with("</svg>\n"));
    fs::remove_dir_all(dir).unwrap();
}

fn small_gallery() -> Gallery {
    // Ada from two images (mean (0, 1)), Bo from one, Émile with a comma.
    let e = [0.0, 0.0, 0.0, 2.0, 4.0, 0.0, -3.0, -3.0];
    Gallery::from_examples(&["ada", "bo", "Émile, jr"], &e, &[0, 0, 1, 2], 2, 1.5).unwrap()
}

#[test]
fn gallery_finds_the_nearest_identity_or_nobody() {
    let g = small_gallery();
    assert_eq!(g.len(), 3);
    assert_eq!(g.embedding(0), &[0.0, 1.0]);
    // (0.5, 1.5) is 0.5 from Ada; (2, 0) is 4 + 1 = 5 from Ada and 4 from Bo.
    let m = g.nearest(&[0.5, 1.5]).unwrap();
    assert_eq!(
        (m.identity, m.nearest, m.distance),
        (Identity::Known(0), 0, 0.5)
    );
    let m = g.nearest(&[2.0, 0.0]).unwrap();
    assert_eq!(
        (m.identity, m.nearest, m.distance),
        (Identity::Unknown, 1, 4.0)
    );
    assert_eq!(g.name_of(m.identity), None);
    assert!(g.verify(&[0.5, 1.5], "ada").unwrap());
    assert!(!g.verify(&[0.5, 1.5], "bo").unwrap());
    assert!(g.verify(&[0.5, 1.5], "cy").is_err());
    let eu = g.clone().with_distance(Distance::Euclidean);
    assert_eq!(eu.nearest(&[2.0, 0.0]).unwrap().distance, 2.0);
    // One-shot enrolment, and its mistakes.
    let mut g = g;
    assert_eq!(g.enrol("cy", &[2.0, 0.0]).unwrap(), 3);
    assert_eq!(g.nearest(&[2.0, 0.0]).unwrap().identity, Identity::Known(3));
    assert!(g.enrol("cy", &[9.0, 9.0]).is_err());
    assert!(g.enrol("di", &[9.0]).is_err());
    assert!(g.enrol("di", &[f32::NAN, 0.0]).is_err());
    assert!(Gallery::new(2, 1.0).unwrap().nearest(&[0.0, 0.0]).is_err());
    assert!(Gallery::new(0, 1.0).is_err());
    assert!(Gallery::from_examples(&["a"], &[0.0, 1.0], &[1], 2, 1.0).is_err());
    assert!(Gallery::from_examples(&["a", "b"], &[0.0, 1.0], &[0], 2, 1.0).is_err());
}

/// The message of a `Format` error from loading `path`.
fn load_error(path: &std::path::Path) -> String {
    match Gallery::load(path) {
        Err(Error::Format { message, .. }) => message,
        Err(other) => panic!("expected a format error, got {other:?}"),
        Ok(_) => panic!("a damaged gallery loaded"),
    }
}

#[test]
fn gallery_saves_loads_and_refuses_damaged_files() {
    let dir = test_dir("gallery");
    let path = dir.join("people.gallery");
    let g = small_gallery().with_distance(Distance::Euclidean);
    g.save(&path).unwrap();
    assert_eq!(Gallery::load(&path).unwrap(), g);
    let empty = Gallery::new(3, 0.7).unwrap();
    empty.save(&dir.join("empty")).unwrap();
    assert_eq!(Gallery::load(&dir.join("empty")).unwrap(), empty);

    let good = fs::read(&path).unwrap();
    let broken = dir.join("broken");
    // A flipped bit in the last embedding value: only the checksum sees it.
    let mut bytes = good.clone();
    *bytes.last_mut().unwrap() ^= 0x01;
    fs::write(&broken, &bytes).unwrap();
    let m = load_error(&broken);
    assert!(m.starts_with("damaged: checksum"), "{m}");
    // A name changed in the header, the length kept.
    let mut bytes = good.clone();
    let at = bytes.windows(5).position(|w| w == b"\"ada\"").unwrap();
    bytes[at + 3] = b'b';
    fs::write(&broken, &bytes).unwrap();
    let m = load_error(&broken);
    assert!(m.starts_with("damaged: checksum"), "{m}");
    // Truncated anywhere, or garbage: an error, never a panic.
    for cut in [0, 7, 8, 40, good.len() / 2, good.len() - 1] {
        fs::write(&broken, &good[..cut]).unwrap();
        assert!(Gallery::load(&broken).is_err(), "cut at {cut}");
    }
    // A safetensors file that is not a gallery.
    crate::io::save(&broken, &[("w".into(), vec![1], &[1.0])], &[]).unwrap();
    assert_eq!(
        load_error(&broken),
        "not a gallery: no `format` in the metadata"
    );
    assert!(matches!(
        Gallery::load(&dir.join("absent")),
        Err(Error::Io { .. })
    ));
    fs::remove_dir_all(dir).unwrap();
}

#[test]
fn pk_batches_hold_p_identities_of_k_images() {
    // Identities 0..6 with 5, 4, 3, 3, 2, 1 images; 5 has one and is left out.
    let ids: Vec<usize> = [5, 4, 3, 3, 2, 1]
        .iter()
        .enumerate()
        .flat_map(|(id, &count)| std::iter::repeat_n(id, count))
        .collect();
    let s = PkSampler::new(&ids, 2, 3).unwrap();
    assert_eq!((s.identities(), s.left_out()), (5, 1));
    assert_eq!((s.batch_size(), s.batches_per_epoch()), (6, 2));
    let (mut order, mut again) = (Vec::new(), Vec::new());
    s.epoch_order(9, 1, &mut order);
    s.epoch_order(9, 1, &mut again);
    assert_eq!(order, again, "the order is fixed by (seed, epoch)");
    s.epoch_order(9, 2, &mut again);
    assert_ne!(order, again, "each epoch draws anew");
    assert_eq!(order.len(), 12);
    let mut seen = std::collections::HashSet::new();
    for batch in order.chunks_exact(6) {
        let (a, b) = (&batch[..3], &batch[3..]);
        for block in [a, b] {
            let id = ids[block[0]];
            assert_ne!(id, 5);
            assert!(block.iter().all(|&i| ids[i] == id), "{batch:?}");
            assert!(seen.insert(id), "identity {id} twice in one epoch");
            // Distinct images when the identity has K of them.
            let mut distinct = block.to_vec();
            distinct.sort_unstable();
            distinct.dedup();
            let have = ids.iter().filter(|&&x| x == id).count();
            assert_eq!(distinct.len(), have.min(3), "{block:?}");
        }
        assert_ne!(ids[a[0]], ids[b[0]]);
    }
    let m = PkSampler::new(&ids, 6, 2).unwrap_err().to_string();
    assert!(
        m.contains("5 of the 6 identities have two or more images"),
        "{m}"
    );
    assert!(PkSampler::new(&ids, 1, 2).is_err());
    assert!(PkSampler::new(&ids, 2, 1).is_err());
}
