//! Folders the tests make: PNGs written by [`crate::io::image`], JPEGs
//! copied from `tests/fixtures/images/` (made by
//! `scripts/make_image_fixtures.py`: the library reads JPEGs, it does not
//! write them), with a corrupt file, a truncated one and a non-image among
//! them.

use super::*;
use crate::io::image::{write_png_gray, write_png_rgb};
use crate::io::test_dir;

/// Writes an RGB PNG whose pixel `(x, y)` is `colour(x, y)`.
fn rgb(path: &Path, w: usize, h: usize, colour: impl Fn(usize, usize) -> [u8; 3]) {
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    let data: Vec<f32> = (0..h)
        .flat_map(|y| (0..w).map(move |x| (x, y)))
        .flat_map(|(x, y)| colour(x, y))
        .map(|v| f32::from(v) / 255.0)
        .collect();
    write_png_rgb(path, w, h, &data, false).unwrap();
}

/// Writes a grey PNG whose pixel `(x, y)` is `value(x, y)`.
fn grey(path: &Path, w: usize, h: usize, value: impl Fn(usize, usize) -> u8) {
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    let data: Vec<f32> = (0..h)
        .flat_map(|y| (0..w).map(move |x| (x, y)))
        .map(|(x, y)| f32::from(value(x, y)) / 255.0)
        .collect();
    write_png_gray(path, w, h, &data, false).unwrap();
}

/// The committed picture `tests/fixtures/images/{name}`.
fn fixture(name: &str) -> Vec<u8> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/images");
    fs::read(dir.join(name)).unwrap()
}

/// Copies a committed JPEG to `path`.
fn jpeg(path: &Path, name: &str) {
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, fixture(name)).unwrap();
}

/// `pets/` with three classes (sorted: bird, cat, dog) and every kind of
/// file a real folder has.
fn pets() -> PathBuf {
    let root = test_dir("folder-pets");
    // bird: one grey PNG, one in a subfolder.
    grey(&root.join("bird/b1.png"), 6, 6, |_, _| 10);
    grey(&root.join("bird/more/b2.png"), 9, 6, |_, _| 20);
    // cat: PNG and JPEG, a corrupt JPEG, a truncated PNG, a text file.
    rgb(&root.join("cat/c1.png"), 8, 8, |_, _| [255, 0, 0]);
    jpeg(&root.join("cat/c2.jpg"), "blue_16x16.jpg");
    fs::write(
        root.join("cat/broken.jpg"),
        b"\xff\xd8\xff\xe0 not really a jpeg",
    )
    .unwrap();
    let good = fs::read(root.join("cat/c1.png")).unwrap();
    fs::write(root.join("cat/cut.png"), &good[..good.len() / 2]).unwrap();
    fs::write(root.join("cat/notes.txt"), "fed at 6").unwrap();
    // dog: a JPEG cut short, which the decoder alone would take (grey rows).
    let full = fixture("gradient_32x32.jpg");
    // Cut inside the pixel data, after the headers.
    fs::create_dir_all(root.join("dog")).unwrap();
    fs::write(root.join("dog/short.jpg"), &full[..full.len() - 40]).unwrap();
    // dog: a JPEG with a .jpeg name, and a JPEG misnamed .png.
    jpeg(&root.join("dog/d1.jpeg"), "green_12x8.jpg");
    jpeg(&root.join("dog/d2.png"), "green_12x8.jpg");
    // Outside the classes: a README (reported), hidden files (not).
    fs::write(root.join("README.md"), "pets").unwrap();
    fs::write(root.join(".DS_Store"), "junk").unwrap();
    fs::write(root.join("dog/._d1.jpeg"), "apple double").unwrap();
    fs::create_dir_all(root.join(".cache")).unwrap();
    root
}

#[test]
fn reads_classes_in_sorted_order_and_reports_every_bad_file() {
    let root = pets();
    let (data, report) = load(&root, [4, 4, 3]).unwrap();
    assert_eq!(report.class_names(), ["bird", "cat", "dog"]);
    let counts: Vec<usize> = report.classes.iter().map(|c| c.images).collect();
    assert_eq!(counts, [2, 2, 2]);
    assert_eq!(
        (data.len(), data.classes(), data.shape()),
        (6, 3, [4, 4, 3])
    );
    // Path order within a class: bird/b1.png, bird/more/b2.png, cat/c1.png, ...
    assert_eq!(data.labels(), [0, 0, 1, 1, 2, 2]);

    let bad: Vec<(String, &str)> = report
        .unreadable
        .iter()
        .map(|u| {
            let name = u.path.strip_prefix(&root).unwrap().display().to_string();
            (name, u.reason.as_str())
        })
        .collect();
    let names: Vec<&str> = bad.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "cat/broken.jpg",
            "cat/cut.png",
            "cat/notes.txt",
            "dog/short.jpg"
        ]
    );
    assert!(bad[0].1.starts_with("cannot decode"), "{}", bad[0].1);
    assert!(bad[1].1.starts_with("cannot decode"), "{}", bad[1].1);
    assert_eq!(bad[2].1, "not a PNG or JPEG image");
    assert_eq!(
        bad[3].1,
        "truncated JPEG: the file ends before its end-of-image marker"
    );
    assert_eq!(report.ignored, [root.join("README.md")]);

    // Colours survive: grey 10 in every channel, pure red, JPEG blue and green.
    let pixel = |i: usize| data.example(i).0[..3].to_vec();
    assert_eq!(pixel(0), [10.0 / 255.0; 3]);
    assert_eq!(pixel(2), [1.0, 0.0, 0.0]);
    for (i, channel) in [(3, 2), (4, 1), (5, 1)] {
        let p = pixel(i);
        for (k, v) in p.iter().enumerate() {
            let want = if k == channel { 1.0 } else { 0.0 };
            // JPEG is lossy: a flat colour comes back within a few levels.
            assert!((v - want).abs() < 6.0 / 255.0, "image {i}: {p:?}");
        }
    }

    let text = report.to_string();
    for line in [
        "6 images in 3 classes, each resized and centre-cropped to 4x4x3",
        "  label  class  images\n",
        "      0  bird        2\n",
        "      2  dog         2\n",
        "could not read 4 files:",
        "\n  cat/notes.txt: not a PNG or JPEG image\n",
        "ignored 1 file outside the class folders:\n  README.md\n",
    ] {
        assert!(text.contains(line), "missing {line:?} in\n{text}");
    }
    fs::remove_dir_all(root).unwrap();
}

/// The band in the middle survives the crop; the dark margins do not. The
/// margins are 4 source pixels wide: farther than the shrinking filter
/// reaches (2 source pixels at a scale of 1/2) from the kept centre.
#[test]
fn scales_the_shorter_side_and_crops_the_centre() {
    let root = test_dir("folder-crop");
    // Wide: 16x4, columns 4..12 bright. Tall: 4x16, rows 4..12 bright.
    grey(&root.join("wide/w.png"), 16, 4, |x, _| {
        if (4..12).contains(&x) {
            200
        } else {
            0
        }
    });
    grey(&root.join("tall/t.png"), 4, 16, |_, y| {
        if (4..12).contains(&y) {
            100
        } else {
            0
        }
    });
    let (data, _) = load(&root, [2, 2, 1]).unwrap();
    assert_eq!(data.labels(), [0, 1]); // tall, wide
    assert_eq!(data.example(0).0, [100.0 / 255.0; 4]);
    assert_eq!(data.example(1).0, [200.0 / 255.0; 4]);

    // Non-square targets cover and crop too: a 16x4 image into 1x2 (h x w)
    // is scaled by 1/4 to 4x1 and keeps the middle two columns.
    let (data, _) = load(&root, [1, 2, 1]).unwrap();
    assert_eq!(data.example(1).0.len(), 2);
    // Upscaling a constant image keeps it constant.
    let (data, _) = load(&root, [40, 40, 1]).unwrap();
    assert_eq!(data.shape(), [40, 40, 1]);
    fs::remove_dir_all(root).unwrap();
}

#[test]
fn grey_targets_use_luma_and_rgb_targets_repeat_grey() {
    let root = test_dir("folder-grey");
    rgb(&root.join("red/r.png"), 3, 3, |_, _| [255, 0, 0]);
    grey(&root.join("grey/g.png"), 3, 3, |_, _| 51);
    let (data, _) = load(&root, [3, 3, 1]).unwrap();
    // Rec. 709 luma of pure red: 0.2126 (rounded to a byte).
    let red = data.example(1).0[0];
    assert!((red - 0.2126).abs() <= 1.0 / 255.0, "{red}");
    assert_eq!(data.example(0).0, [0.2; 9]);
    let (data, _) = load(&root, [3, 3, 3]).unwrap();
    assert_eq!(data.example(0).0, [0.2; 27]);
    fs::remove_dir_all(root).unwrap();
}

#[test]
fn a_missing_or_unusable_folder_is_an_error_naming_it() {
    let root = test_dir("folder-errors");
    let message = |r: Result<(Dataset, FolderReport)>| match r {
        Ok(_) => panic!("expected an error"),
        Err(e) => e.to_string(),
    };

    let absent = root.join("absent");
    let m = message(load(&absent, [4, 4, 1]));
    assert!(m.starts_with(&absent.display().to_string()), "{m}");

    let file = root.join("file.png");
    grey(&file, 2, 2, |_, _| 0);
    let m = message(load(&file, [4, 4, 1]));
    assert!(m.contains("file.png") && m.contains("not a folder"), "{m}");

    let empty = root.join("empty");
    fs::create_dir_all(&empty).unwrap();
    let m = message(load(&empty, [4, 4, 1]));
    assert!(
        m.contains("empty") && m.contains("no class folders (it is empty)"),
        "{m}"
    );
    fs::write(empty.join("a.png"), "x").unwrap();
    let m = message(load(&empty, [4, 4, 1]));
    assert!(m.contains("it holds 1 file and no folder"), "{m}");

    let one = root.join("one-empty");
    grey(&one.join("a/x.png"), 2, 2, |_, _| 0);
    fs::create_dir_all(one.join("b")).unwrap();
    let m = message(load(&one, [4, 4, 1]));
    assert!(m.starts_with(&one.join("b").display().to_string()), "{m}");
    assert!(
        m.contains("class `b` has no readable image: no files"),
        "{m}"
    );

    // Two empty classes: both named, with what their files were.
    fs::write(one.join("a/x.png"), "garbage").unwrap();
    let m = message(load(&one, [4, 4, 1]));
    assert!(m.contains("2 classes have no readable image"), "{m}");
    assert!(
        m.contains("`a` (1 file that could not be read (x.png: not a PNG or JPEG image))"),
        "{m}"
    );
    assert!(m.contains("`b` (no files)"), "{m}");

    for bad in [[0, 4, 1], [4, 4, 2], [4, 4, 4]] {
        let m = message(load(&one, bad));
        assert!(m.contains("c = 1 (grey) or 3 (RGB)"), "{m}");
    }
    fs::remove_dir_all(root).unwrap();
}

#[test]
fn other_formats_are_named() {
    let root = test_dir("folder-gif");
    grey(&root.join("a/ok.png"), 2, 2, |_, _| 0);
    fs::write(
        root.join("a/anim.gif"),
        b"GIF89a\x01\x00\x01\x00\x00\x00\x00;",
    )
    .unwrap();
    let (_, report) = load(&root, [2, 2, 1]).unwrap();
    assert_eq!(report.unreadable.len(), 1);
    assert_eq!(
        report.unreadable[0].reason,
        "a GIF image: only PNG and JPEG are read"
    );
    fs::remove_dir_all(root).unwrap();
}

/// Hand-made marker streams: a thumbnail's end marker inside the EXIF
/// segment, stuffed bytes and restart markers in the scan, fill bytes.
#[test]
fn jpeg_end_marker_is_found_past_thumbnails_and_stuffing() {
    let app1 = [0xFF, 0xE1, 0x00, 0x06, 0xFF, 0xD8, 0xFF, 0xD9]; // length 6 covers 4 bytes + itself
    let sos = [0xFF, 0xDA, 0x00, 0x03, 0x01];
    let scan = [0x12, 0xFF, 0x00, 0x34, 0xFF, 0xD3, 0x56, 0xFF, 0xFF];
    let whole: Vec<u8> = [&[0xFF, 0xD8][..], &app1, &sos, &scan, &[0xD9]].concat();
    assert!(jpeg_reaches_its_end(&whole));
    for cut in 0..whole.len() {
        assert!(!jpeg_reaches_its_end(&whole[..cut]), "cut at {cut}");
    }
    // Bytes after the end marker (some cameras append data) are fine.
    assert!(jpeg_reaches_its_end(&[&whole[..], b"trailer"].concat()));
}

/// A photo turned by its EXIF orientation (6: shown a quarter turn
/// clockwise) stands as it is shown, in a JPEG and in a PNG: stored 16
/// wide and 8 high with the left half red and the right half blue, it is
/// read 8 wide and 16 high with red on top.
#[test]
fn exif_orientation_is_applied() {
    let root = test_dir("folder-exif");
    jpeg(&root.join("a/turned.jpg"), "exif6_16x8.jpg");
    jpeg(&root.join("b/turned.png"), "exif6_16x8.png");
    let (data, report) = load(&root, [16, 8, 3]).unwrap();
    assert!(report.unreadable.is_empty(), "{report}");
    for i in 0..2 {
        let x = data.example(i).0;
        let pixel = |row: usize, col: usize| &x[(row * 8 + col) * 3..(row * 8 + col) * 3 + 3];
        for (row, want) in [(2, [1.0, 0.0, 0.0]), (13, [0.0, 0.0, 1.0])] {
            for col in [1, 6] {
                let p = pixel(row, col);
                let near = p
                    .iter()
                    .zip(want)
                    .all(|(v, w)| (v - w).abs() < 12.0 / 255.0);
                assert!(near, "image {i} row {row} col {col}: {p:?}, want {want:?}");
            }
        }
    }
    fs::remove_dir_all(root).unwrap();
}
