//! Round trips, refusal of another trunk's features, and damaged files:
//! cut at every offset, every bit flipped, files of other kinds.

use super::*;
use crate::io::test_dir;
use std::path::PathBuf;

fn small() -> Features {
    Features {
        x: (0..12).map(|i| i as f32 * 0.5 - 1.0).collect(),
        shape: vec![2, 1, 2],
        labels: vec![0, 2, 1],
        classes: 3,
        trunk: "trunk-é".into(),
        checksum: weights_checksum(&[1.0, 2.0]),
    }
}

fn format_message(r: Result<Features>, file: &Path) -> String {
    match r {
        Err(Error::Format { path, message }) => {
            assert_eq!(path, file);
            message
        }
        Err(other) => panic!("expected Error::Format, got {other:?}"),
        Ok(_) => panic!("a damaged file was read"),
    }
}

/// Files in `dir` (to see that nothing was left behind).
fn listing(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    v.sort();
    v
}

/// FNV-1a's published test vectors (the FNV reference, fnv.c's test suite).
#[test]
fn fnv1a_matches_its_reference_and_sees_every_bit() {
    assert_eq!(fnv1a(FNV_OFFSET, b""), 0xcbf29ce484222325);
    assert_eq!(fnv1a(FNV_OFFSET, b"a"), 0xaf63dc4c8601ec8c);
    assert_eq!(fnv1a(FNV_OFFSET, b"foobar"), 0x85944171f73967e8);
    let w = [0.25f32, -3.0, 1e-8];
    assert_eq!(weights_checksum(&w), weights_checksum(&w));
    let mut nudged = w;
    nudged[2] = f32::from_bits(w[2].to_bits() + 1);
    assert_ne!(weights_checksum(&w), weights_checksum(&nudged));
    assert_ne!(weights_checksum(&[0.0]), weights_checksum(&[-0.0]));
    assert_ne!(weights_checksum(&[1.0, 2.0]), weights_checksum(&[2.0, 1.0]));
}

#[test]
fn round_trip_keeps_every_field() {
    let dir = test_dir("features-round-trip");
    let path = dir.join("f.cnnfeat");
    let f = small();
    f.save(&path).unwrap();
    assert_eq!(Features::load(&path, &f.trunk, f.checksum).unwrap(), f);
    assert_eq!(Features::read(&path).unwrap(), f);
    // Header 8 + 4 + 8 + 4 + 4 + 3*8 + 4 + 8 ("trunk-é") + 8 + 8, labels
    // 3*4, features 12*4, checksum 8.
    assert_eq!(fs::metadata(&path).unwrap().len(), 80 + 12 + 48 + 8);
    assert_eq!(listing(&dir), std::slice::from_ref(&path));

    // Saving again replaces the file whole.
    let mut g = f.clone();
    g.x[0] = 7.0;
    g.save(&path).unwrap();
    assert_eq!(Features::read(&path).unwrap().x[0], 7.0);
    fs::remove_dir_all(dir).unwrap();
}

#[test]
fn to_dataset_gives_flat_features_a_flat_shape() {
    let d = small().to_dataset().unwrap();
    assert_eq!((d.shape(), d.len(), d.classes()), ([2, 1, 2], 3, 3));
    assert_eq!(d.labels(), [0, 2, 1]);
    let flat = Features {
        shape: vec![4],
        ..small()
    };
    let d = flat.into_dataset().unwrap();
    assert_eq!(d.shape(), [1, 1, 4]);
    assert_eq!(d.example(1).0, [1.0, 1.5, 2.0, 2.5]);
}

#[test]
fn features_of_another_trunk_are_refused_naming_both() {
    let dir = test_dir("features-trunk");
    let path = dir.join("f.cnnfeat");
    let f = small();
    f.save(&path).unwrap();
    let message = |r: Result<Features>| match r {
        Err(Error::Mismatch { path: p, message }) => {
            assert_eq!(p, path);
            message
        }
        other => panic!("expected Error::Mismatch, got {other:?}"),
    };
    let m = message(Features::load(&path, "resnet", f.checksum));
    assert!(m.starts_with("features of another trunk"), "{m}");
    assert!(m.contains("`trunk-é`") && m.contains("`resnet`"), "{m}");
    let other = weights_checksum(&[1.0, 2.5]);
    let m = message(Features::load(&path, "trunk-é", other));
    assert!(
        m.starts_with("features of the same trunk with other weights"),
        "{m}"
    );
    assert!(m.contains(&format!("{:016x}", f.checksum)), "{m}");
    assert!(m.contains(&format!("{other:016x}")), "{m}");
    fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_file_cut_anywhere_is_an_error_naming_the_file() {
    let dir = test_dir("features-cut");
    let path = dir.join("f.cnnfeat");
    small().save(&path).unwrap();
    let bytes = fs::read(&path).unwrap();
    let cut = dir.join("cut.cnnfeat");
    for len in 0..bytes.len() {
        fs::write(&cut, &bytes[..len]).unwrap();
        let m = format_message(Features::read(&cut), &cut);
        let expected = if len < 8 {
            "not a features file"
        } else if len < 80 {
            "truncated or corrupt header"
        } else {
            "truncated: the header promises 3 examples of 2x1x2 features, 148 bytes"
        };
        assert!(m.starts_with(expected), "cut at {len}: {m}");
    }
    // One byte too many is not taken either.
    fs::write(&cut, [&bytes[..], &[0]].concat()).unwrap();
    let m = format_message(Features::read(&cut), &cut);
    assert!(m.starts_with("too long"), "{m}");
    fs::remove_dir_all(dir).unwrap();
}

/// Each byte step of FNV-1a is a bijection of the running hash, so any
/// one changed byte changes both checksums behind it: every single flip is
/// caught, wherever it lands.
#[test]
fn every_flipped_bit_is_an_error() {
    let dir = test_dir("features-flip");
    let path = dir.join("f.cnnfeat");
    small().save(&path).unwrap();
    let bytes = fs::read(&path).unwrap();
    let bad = dir.join("flipped.cnnfeat");
    let mut seen = std::collections::BTreeSet::new();
    for i in 0..bytes.len() {
        for bit in 0..8 {
            let mut b = bytes.clone();
            b[i] ^= 1 << bit;
            fs::write(&bad, &b).unwrap();
            let m = format_message(Features::read(&bad), &bad);
            seen.insert(m.split(':').next().unwrap().to_string());
        }
    }
    // Which check caught it depends on where the flip is.
    for kind in [
        "not a features file",
        "format version 3",
        "corrupt header",
        "corrupt data",
    ] {
        assert!(
            seen.iter().any(|s| s.starts_with(kind)),
            "{kind} in {seen:?}"
        );
    }
    fs::remove_dir_all(dir).unwrap();
}

#[test]
fn files_of_other_kinds_are_not_features() {
    let dir = test_dir("features-foreign");
    let ckpt = dir.join("w.safetensors");
    crate::io::save(&ckpt, &[("w".into(), vec![2], &[1.0, 2.0][..])], &[]).unwrap();
    let png = dir.join("i.png");
    crate::io::image::write_png_gray(&png, 2, 2, &[0.0; 4], false).unwrap();
    let empty = dir.join("empty");
    fs::write(&empty, b"").unwrap();
    let text = dir.join("notes.txt");
    fs::write(&text, "CNNFEAT is the magic").unwrap();
    for file in [&ckpt, &png, &empty, &text] {
        let m = format_message(Features::read(file), file);
        assert!(m.starts_with("not a features file"), "{m}");
    }
    let err = Features::read(dir.join("absent")).unwrap_err();
    assert!(matches!(err, Error::Io { .. }), "{err:?}");
    fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_failed_write_leaves_nothing_behind() {
    let dir = test_dir("features-write");
    let path = dir.join("f.cnnfeat");
    small().save(&path).unwrap();
    let good = fs::read(&path).unwrap();

    // Invalid features are refused before a byte is written.
    let mut wrong = small();
    wrong.x.pop();
    assert!(matches!(wrong.save(&path), Err(Error::Shape { .. })));
    let mut wrong = small();
    wrong.labels[1] = 3;
    assert!(matches!(
        wrong.save(&path),
        Err(Error::LabelOutOfRange { label: 3, .. })
    ));
    for shape in [vec![], vec![0], vec![1, 1, 1, 12]] {
        let wrong = Features { shape, ..small() };
        assert!(wrong.save(&path).is_err());
    }
    assert_eq!(fs::read(&path).unwrap(), good);

    // A folder that does not exist: an Io error, nothing created.
    let err = small().save(dir.join("no/such/f.cnnfeat")).unwrap_err();
    assert!(matches!(err, Error::Io { .. }), "{err:?}");

    // The rename fails (a folder is in the way): no temporary is left.
    let blocked = dir.join("blocked");
    fs::create_dir(&blocked).unwrap();
    fs::write(blocked.join("keep"), "x").unwrap();
    assert!(small().save(&blocked).is_err());
    assert_eq!(listing(&dir), [blocked.clone(), path.clone()]);
    assert_eq!(fs::read(&path).unwrap(), good);
    fs::remove_dir_all(dir).unwrap();
}

/// Two 1x2x1 examples per class: the "trunk" returns each image's sum and
/// difference.
#[test]
fn extract_runs_batches_in_order_and_checks_the_outputs() {
    let x: Vec<f32> = (0..10).map(|i| i as f32).collect();
    let data = Dataset::new([1, 2, 1], x, vec![0, 1, 0, 1, 1], 2).unwrap();
    let mut batches = Vec::new();
    let f = extract(&data, "sum-diff", 42, &[2], 2, |images, n| {
        batches.push(n);
        Ok(images
            .chunks(2)
            .flat_map(|p| [p[0] + p[1], p[0] - p[1]])
            .collect())
    })
    .unwrap();
    assert_eq!(batches, [2, 2, 1]);
    assert_eq!(f.x, [1., -1., 5., -1., 9., -1., 13., -1., 17., -1.]);
    assert_eq!(
        (f.shape.as_slice(), f.labels.as_slice()),
        (&[2][..], &[0, 1, 0, 1, 1][..])
    );
    assert_eq!(
        (f.classes, f.trunk.as_str(), f.checksum),
        (2, "sum-diff", 42)
    );

    let err = extract(&data, "short", 0, &[2], 2, |_, n| Ok(vec![0.0; n])).unwrap_err();
    assert!(
        err.to_string()
            .contains("`short`'s output for examples 0..2"),
        "{err}"
    );
    let err = extract(&data, "nan", 0, &[1], 2, |images, n| {
        Ok((0..n)
            .map(|k| if images[2 * k] == 6.0 { f32::NAN } else { 0.0 })
            .collect())
    })
    .unwrap_err();
    assert!(
        err.to_string().contains("output for example 3 holds NaN"),
        "{err}"
    );
    let err = extract(&data, "failing", 0, &[1], 2, |_, _| {
        Err(Error::InvalidArgument("the trunk broke".into()))
    })
    .unwrap_err();
    assert!(err.to_string().contains("the trunk broke"), "{err}");
    assert!(extract(&data, "zero", 0, &[1], 0, |_, n| Ok(vec![0.0; n])).is_err());
}
