//! The `one_shot` example's core (`examples/shared/one_shot/`) on tiny
//! sets, so that CI checks it builds and runs end to end: a few letters of
//! each glyph alphabet in a few fonts for one epoch, and a folder of
//! made-up people written here; the command line's defaults and refusals;
//! the episodes and pairs the measurements draw.

use crate::common::TempDir;
use crate::one_shot_example::train::Init;
use crate::one_shot_example::{eval, nets, parse, Args, Source};
#[allow(dead_code)] // the test does not print the usage or exit
use cnn::embed::Gallery;
use std::fs;
use std::path::{Path, PathBuf};

fn args(words: &[&str]) -> Result<Args, String> {
    parse(words.iter().map(|w| w.to_string()))
}

/// A quick run's settings into `out`: one epoch of each network, small
/// batches, few episodes and pairs, nothing printed. (Embedding the
/// images, five views each, costs more than training: the pairs' images
/// are most of those embedded.)
fn quick(mut a: Args, out: &Path) -> Args {
    a.train.epochs = 1;
    a.train.baseline_epochs = 1;
    a.train.p = 6;
    a.train.k = 3;
    a.train.verbose = false;
    a.episodes = 40;
    a.pairs = 30;
    a.out = out.to_path_buf();
    a
}

/// Checks every row is a fraction and every file is there.
fn check_report(report: &crate::one_shot_example::Report) {
    for r in &report.rows {
        for v in [r.triplet, r.softmax, r.pixels] {
            assert!((0.0..=1.0).contains(&v), "{}: {v}", r.measure);
        }
    }
    for f in &report.files {
        assert!(f.is_file(), "{} was not written", f.display());
    }
}

#[test]
fn the_glyph_run_trains_measures_and_writes_on_a_few_letters() {
    let out = TempDir::new("one-shot-glyphs");
    // 5 letters of each alphabet in their first 4 fonts: 224 images to
    // train on and 100 to test on (of 14,382 and 5,403).
    let glyphs = ["--per-group", "5", "--per-identity", "4"];
    let a = quick(args(&glyphs).unwrap(), out.path());
    assert_eq!(a.per_identity, Some(4));
    let report = crate::one_shot_example::run(&a).unwrap();
    assert_eq!(report.unseen, "alphabets");
    // 5 letters per alphabet: 5-way episodes exist, 20-way ones do not.
    assert!(report.row("one-shot 5-way accuracy").is_some());
    assert!(report.row("one-shot 20-way").is_none());
    for m in ["verification accuracy", "TAR at FAR 1e-3", "ROC area"] {
        assert!(report.row(m).is_some(), "{m}");
    }
    check_report(&report);
    // Raw pixels tell letters of one alphabet apart better than chance.
    assert!(report.row("one-shot 5-way").unwrap().pixels > 0.3);
    assert_eq!(report.history.len(), 2);
    // The gallery holds the 5 x 5 unseen letters, and the weights load back.
    let gallery = Gallery::load(&out.join("gallery.safetensors")).unwrap();
    assert_eq!(gallery.len(), 25);
    assert!(
        gallery.names()[0].starts_with("Armenian U+"),
        "{:?}",
        gallery.names()
    );
    nets::Encoder::load(out.join("encoder.safetensors")).unwrap();
    let csv = fs::read_to_string(out.join("results.csv")).unwrap();
    assert!(
        csv.starts_with("measure,triplet,softmax,pixels\none-shot 5-way accuracy,"),
        "{csv}"
    );
    assert!(out.join("roc_triplet.svg").is_file());
    // `--weights` measures the saved networks again without training:
    // the same figures on the same episodes and pairs.
    let mut again = quick(args(&glyphs).unwrap(), &out.join("again"));
    again.weights = Some(out.path().to_path_buf());
    let second = crate::one_shot_example::run(&again).unwrap();
    assert!(second.history.is_empty(), "nothing trained");
    for (a, b) in report.rows.iter().zip(&second.rows) {
        assert_eq!(
            (a.triplet, a.softmax, a.pixels),
            (b.triplet, b.softmax, b.pixels),
            "{}",
            a.measure
        );
    }
    // A directory without the two networks is a clear error.
    again.weights = Some(out.join("nowhere"));
    let err = crate::one_shot_example::run(&again)
        .err()
        .expect("no saved networks");
    assert!(
        err.to_string().contains("softmax_baseline.safetensors"),
        "{err}"
    );
}

/// `people/<name>/<k>.png`: each person a bright blob of their own shape
/// and place, on dark noise, moved a little from picture to picture.
fn people(root: &Path, count: usize, pictures: usize) {
    let noise = cnn_runtime::testing::random(40 * 40 * count * pictures, 3);
    for person in 0..count {
        let dir = root.join(format!("person{person:02}"));
        fs::create_dir_all(&dir).unwrap();
        let (cy, cx) = (8 + (person * 7) % 20, 8 + (person * 11) % 20);
        let (ry, rx) = (3 + person % 4, 3 + (person / 4) % 4);
        for k in 0..pictures {
            let offset = (person * pictures + k) * 1600;
            let (dy, dx) = (k % 3, (k / 3) % 3);
            let pixels: Vec<f32> = (0..1600)
                .map(|i| {
                    let (y, x) = ((i / 40) as isize, (i % 40) as isize);
                    let inside = ((y - (cy + dy) as isize) as f32 / ry as f32).powi(2)
                        + ((x - (cx + dx) as isize) as f32 / rx as f32).powi(2)
                        <= 1.0;
                    if inside {
                        0.9
                    } else {
                        0.15 * noise[offset + i].abs()
                    }
                })
                .collect();
            let path = dir.join(format!("{k}.png"));
            cnn::io::image::write_png_gray(&path, 40, 40, &pixels, false).unwrap();
        }
    }
}

#[test]
fn a_folder_of_people_trains_and_enrols_everyone() {
    let root = TempDir::new("one-shot-people");
    people(root.path(), 12, 5);
    // Outside the folder, whose every subfolder is a person.
    let out = TempDir::new("one-shot-people-out");
    let folder = root.path().to_str().unwrap();
    let a = quick(args(&["--folder", folder]).unwrap(), out.path());
    assert_eq!(a.source, Source::Folder(root.path().to_path_buf()));
    let report = crate::one_shot_example::run(&a).unwrap();
    assert_eq!(report.unseen, "identities");
    // Half of 12 people are kept for testing: 6, enough for 5-way.
    assert!(report.row("one-shot 5-way accuracy").is_some());
    check_report(&report);
    let gallery = Gallery::load(&out.join("gallery.safetensors")).unwrap();
    assert_eq!(gallery.len(), 12, "everyone in the folder is enrolled");
    assert_eq!(gallery.names()[3], "person03");
}

#[test]
fn a_folder_with_too_few_people_is_refused() {
    let root = TempDir::new("one-shot-few");
    people(root.path(), 3, 2);
    let out = TempDir::new("one-shot-few-out");
    let a = quick(
        args(&["--folder", root.path().to_str().unwrap()]).unwrap(),
        out.path(),
    );
    let err = crate::one_shot_example::run(&a)
        .err()
        .expect("3 people cannot be split");
    assert!(err.to_string().contains("3 people"), "{err}");
}

#[test]
fn the_command_line_has_defaults_per_set_and_refuses_mistakes() {
    let a = args(&[]).unwrap();
    assert_eq!(a.source, Source::Glyphs(cnn::data::glyphs::vendored_dir()));
    assert_eq!((a.train.epochs, a.train.baseline_epochs), (20, 8));
    assert_eq!(
        (a.train.p, a.train.k, a.episodes, a.pairs),
        (32, 4, 1000, 5000)
    );
    assert_eq!(a.out, PathBuf::from("out/one_shot"));
    assert_eq!(a.train.init, Init::Softmax);
    assert!(a.tta && a.weights.is_none());
    assert_eq!((a.per_group, a.per_identity), (None, None));
    let a = args(&["--init", "random", "--no-tta", "--weights", "out/old"]).unwrap();
    assert_eq!(a.train.init, Init::Random);
    assert!(!a.tta);
    assert_eq!(a.weights, Some(PathBuf::from("out/old")));
    let a = args(&[
        "--dataset",
        "mnist",
        "--epochs=2",
        "--baseline-epochs",
        "1",
        "--mining",
        "batch-hard",
    ])
    .unwrap();
    assert_eq!(a.source, Source::Mnist(cnn::data::mnist::vendored_dir()));
    assert_eq!((a.train.epochs, a.train.baseline_epochs), (2, 1));
    assert_eq!(a.train.margin, 1.0);
    assert_eq!(args(&["--margin", "0.3"]).unwrap().train.margin, 0.3);
    assert_eq!(a.train.mining, cnn::embed::Mining::BatchHard);
    let a = args(&[
        "--dataset",
        "mnist",
        "--data",
        "/tmp/fashion",
        "--no-augment",
    ])
    .unwrap();
    assert_eq!(a.source, Source::Mnist(PathBuf::from("/tmp/fashion")));
    assert!(!a.train.augment);
    for (bad, says) in [
        (
            &["--dataset", "faces"][..],
            "[possible values: glyphs, mnist]",
        ),
        (
            &["--mining", "hard"][..],
            "[possible values: semi-hard, batch-hard, all]",
        ),
        (&["--p", "1"][..], "not a whole number of at least 2"),
        (
            &["--per-identity", "1"][..],
            "not a whole number of at least 2",
        ),
        (
            &["--init", "imagenet"][..],
            "[possible values: softmax, random]",
        ),
        (&["--margin=-1"][..], "not a positive number"),
        (&["--epochs"][..], "a value is required for '--epochs <N>'"),
        (&["--frobnicate"][..], "unexpected argument '--frobnicate'"),
    ] {
        let err = args(bad).unwrap_err();
        assert!(err.contains(says), "{bad:?}: {err}");
    }
    let help = args(&["-h"]).unwrap_err();
    assert!(
        help.contains("--baseline-epochs <N>") && help.contains("--no-augment"),
        "{help}"
    );
}

#[test]
fn episodes_keep_to_one_group_and_query_another_image() {
    let split = crate::one_shot_example::data::glyphs(&cnn::data::glyphs::vendored_dir()).unwrap();
    let test = split.test.first_of_each_group(8).unwrap();
    let by_identity = test.images_by_identity();
    let labels = test.data.labels();
    let episodes = eval::episodes(&test, 5, 200, 7).unwrap();
    assert_eq!(
        episodes,
        eval::episodes(&test, 5, 200, 7).unwrap(),
        "seeded"
    );
    for e in &episodes {
        let ids: Vec<usize> = e.gallery.iter().map(|&i| labels[i]).collect();
        let group = test.group_of[ids[0]];
        assert!(ids.iter().all(|&id| test.group_of[id] == group));
        let mut distinct = ids.clone();
        distinct.sort_unstable();
        distinct.dedup();
        assert_eq!(distinct.len(), 5);
        assert_eq!(labels[e.query], ids[e.answer]);
        assert_ne!(e.query, e.gallery[e.answer]);
        assert!(by_identity[ids[e.answer]].contains(&e.query));
    }
    // 20-way needs 20 letters in one alphabet: 8 per alphabet are too few.
    assert!(eval::episodes(&test, 20, 10, 7).is_none());
    // Pairs: same pairs of one letter (two images), different pairs of
    // two letters of one alphabet.
    let p = eval::pairs(&test, 300, 9);
    assert_eq!((p.same.len(), p.different.len()), (300, 300));
    assert!(p
        .same
        .iter()
        .all(|&(i, j)| i != j && labels[i] == labels[j]));
    assert!(p
        .different
        .iter()
        .all(|&(i, j)| labels[i] != labels[j]
            && test.group_of[labels[i]] == test.group_of[labels[j]]));
    // A perfect embedding (one point per letter) gets every episode right.
    let dim = test.count();
    let onehot: Vec<f32> = labels
        .iter()
        .flat_map(|&l| (0..dim).map(move |k| f32::from(k == l)))
        .collect();
    assert_eq!(eval::one_shot_accuracy(&onehot, dim, &episodes), 1.0);
    // `--per-identity 2`: the first two images of each letter, every
    // letter kept.
    let two = test.first_images_of_each(2).unwrap();
    assert_eq!(two.names, test.names);
    for (kept, all) in two.images_by_identity().iter().zip(&by_identity) {
        let first = &all[..all.len().min(2)];
        assert_eq!(
            two.data.select(kept).images(),
            test.data.select(first).images()
        );
    }
}
