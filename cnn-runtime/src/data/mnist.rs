//! MNIST (LeCun, Cortes and Burges): 60,000 training and 10,000 test
//! images of handwritten digits, 28x28 grey, labels 0..=9, in four IDX
//! files. A copy is vendored in the repository's `data/mnist/` (see
//! `data/README.md` for its origin, licence and checksums); [`vendored_dir`]
//! finds it.
//!
//! Each file may be gzipped (`train-images-idx3-ubyte.gz`, as distributed)
//! or raw (`train-images-idx3-ubyte`).

use super::{find, load_pair, LabelledImages};
use crate::error::{Error, Result};
use std::path::{Path, PathBuf};

/// The training and test sets.
#[derive(Clone, Debug)]
pub struct Mnist {
    /// The 60,000 training images.
    pub train: LabelledImages,
    /// The 10,000 test images.
    pub test: LabelledImages,
}

/// File names without `.gz`: (images, labels) for train, then test.
pub const FILES: [[&str; 2]; 2] = [
    ["train-images-idx3-ubyte", "train-labels-idx1-ubyte"],
    ["t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"],
];

/// Reads the four files from `dir`: image and label counts must agree,
/// labels must be 0..=9, and the test images must have the training
/// images' size.
pub fn load(dir: &Path) -> Result<Mnist> {
    let [train, test] = FILES.map(|[images, labels]| -> Result<LabelledImages> {
        let images = find(dir, images)?;
        let labels = find(dir, labels)?;
        load_pair(&images, &labels, 10, u8::MAX)
    });
    let (train, test) = (train?, test?);
    if (test.height, test.width) != (train.height, train.width) {
        let test_path = find(dir, FILES[1][0])?;
        return Err(Error::format(
            test_path,
            format!(
                "test images are {}x{} but training images are {}x{}",
                test.height, test.width, train.height, train.width
            ),
        ));
    }
    Ok(Mnist { train, test })
}

/// `data/mnist` at the root of the `cnn` repository (where the copy of
/// MNIST lives), found from this crate's source directory.
pub fn vendored_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("data")
        .join("mnist")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::idx::encode;
    use crate::io::test_dir;
    use std::fs;

    /// Writes a tiny MNIST-like set: `n_train` / `n_test` images of 4x4.
    fn write_set(dir: &Path, n_train: usize, n_test: usize, gz: bool) {
        for ([images, labels], n) in FILES.iter().zip([n_train, n_test]) {
            let pixels: Vec<u8> = (0..n * 16).map(|i| (i * 7 % 256) as u8).collect();
            let classes: Vec<u8> = (0..n).map(|i| (i % 10) as u8).collect();
            let files = [
                (images, encode(&[n, 4, 4], &pixels)),
                (labels, encode(&[n], &classes)),
            ];
            for (name, bytes) in files {
                if gz {
                    use std::io::Write;
                    let mut enc =
                        flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
                    enc.write_all(&bytes).unwrap();
                    fs::write(dir.join(format!("{name}.gz")), enc.finish().unwrap()).unwrap();
                } else {
                    fs::write(dir.join(name), bytes).unwrap();
                }
            }
        }
    }

    fn format_error(r: Result<Mnist>) -> (PathBuf, String) {
        match r {
            Err(Error::Format { path, message }) => (path, message),
            other => panic!(
                "expected Error::Format, got {:?}",
                other.map(|m| m.train.len())
            ),
        }
    }

    #[test]
    fn loads_raw_and_gzipped_sets() {
        for gz in [false, true] {
            let dir = test_dir("mnist-small");
            write_set(&dir, 12, 5, gz);
            let m = load(&dir).unwrap();
            assert_eq!((m.train.len(), m.test.len()), (12, 5));
            assert_eq!(m.train.shape(), [4, 4, 1]);
            assert_eq!(m.train.labels[..3], [0, 1, 2]);
            assert_eq!(m.test.image(1).unwrap()[0], 112); // pixel 16 of the test set: 16 * 7
            fs::remove_dir_all(dir).unwrap();
        }
    }

    #[test]
    fn a_missing_file_is_io_naming_it() {
        let dir = test_dir("mnist-missing");
        write_set(&dir, 3, 2, false);
        fs::remove_file(dir.join("t10k-labels-idx1-ubyte")).unwrap();
        let err = load(&dir).unwrap_err();
        assert!(matches!(err, Error::Io { .. }), "{err:?}");
        let msg = err.to_string();
        assert!(
            msg.contains("t10k-labels-idx1-ubyte") && msg.contains(".gz"),
            "{msg}"
        );
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn count_mismatch_names_the_label_file() {
        let dir = test_dir("mnist-count");
        write_set(&dir, 3, 2, false);
        fs::write(
            dir.join("train-labels-idx1-ubyte"),
            encode(&[4], &[1, 2, 3, 4]),
        )
        .unwrap();
        let (path, msg) = format_error(load(&dir));
        assert!(path.ends_with("train-labels-idx1-ubyte"), "{path:?}");
        assert!(
            msg.starts_with("4 labels but") && msg.contains("holds 3 images"),
            "{msg}"
        );
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn label_out_of_range_says_where() {
        let dir = test_dir("mnist-label");
        write_set(&dir, 3, 2, false);
        fs::write(dir.join("t10k-labels-idx1-ubyte"), encode(&[2], &[3, 12])).unwrap();
        let (path, msg) = format_error(load(&dir));
        assert!(path.ends_with("t10k-labels-idx1-ubyte"), "{path:?}");
        assert_eq!(
            msg,
            "label 12 at position 1 is out of range: labels are 0..=9"
        );
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn wrong_magic_and_truncation_name_the_file() {
        let dir = test_dir("mnist-broken");
        write_set(&dir, 3, 2, false);
        // Labels where images belong.
        fs::write(
            dir.join("train-images-idx3-ubyte"),
            encode(&[3], &[0, 1, 2]),
        )
        .unwrap();
        let (path, msg) = format_error(load(&dir));
        assert!(path.ends_with("train-images-idx3-ubyte"), "{path:?}");
        assert!(msg.contains("expected 2051"), "{msg}");
        // Truncated test images.
        write_set(&dir, 3, 2, false);
        let bytes = encode(&[2, 4, 4], &[0; 20]);
        fs::write(dir.join("t10k-images-idx3-ubyte"), bytes).unwrap();
        let (_, msg) = format_error(load(&dir));
        assert_eq!(
            msg,
            "truncated: header says 2 images of 4x4 = 32 bytes, file has 20"
        );
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn test_images_must_match_the_training_size() {
        let dir = test_dir("mnist-size");
        write_set(&dir, 3, 2, false);
        fs::write(
            dir.join("t10k-images-idx3-ubyte"),
            encode(&[2, 2, 8], &[0; 32]),
        )
        .unwrap();
        let (_, msg) = format_error(load(&dir));
        assert_eq!(msg, "test images are 2x8 but training images are 4x4");
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn gather_scales_to_unit_range() {
        let dir = test_dir("mnist-gather");
        write_set(&dir, 12, 5, false);
        let m = load(&dir).unwrap();
        let (mut x, mut y) = (vec![f32::NAN; 2 * 16], vec![99; 2]);
        m.train.gather(&[11, 0], &mut x, &mut y).unwrap();
        assert_eq!(y, vec![1, 0]);
        assert_eq!(x[0], (11 * 16 * 7 % 256) as f32 / 255.0);
        assert_eq!(x[16], 0.0);
        let err = m
            .train
            .gather(&[12], &mut x[..16], &mut y[..1])
            .unwrap_err();
        assert!(err.to_string().contains("index 12"), "{err}");
        assert!(m.train.gather(&[0], &mut x, &mut y[..1]).is_err());
        let part = m.train.slice(10, 12).unwrap();
        assert_eq!((part.len(), part.labels.clone()), (2, vec![0, 1]));
        assert!(m.train.slice(5, 13).is_err());
        fs::remove_dir_all(dir).unwrap();
    }

    /// The vendored copy, against the sanity figures in `data/README.md`.
    #[test]
    fn vendored_mnist_matches_its_readme() {
        let m = load(&vendored_dir()).unwrap();
        assert_eq!((m.train.len(), m.test.len()), (60_000, 10_000));
        assert_eq!(m.train.shape(), [28, 28, 1]);
        assert_eq!(m.train.labels[..10], [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]);
        assert_eq!(m.test.labels[..10], [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]);
        assert_eq!(
            m.train.class_counts(),
            [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
        );
        assert_eq!(
            m.test.class_counts(),
            [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
        );
        let first = m.train.image(0).unwrap();
        assert_eq!(first.iter().map(|&v| v as u32).sum::<u32>(), 27525);
        assert_eq!(first.iter().filter(|&&v| v > 0).count(), 166);
        // Training pixel mean 33.3184 (0.1307 after dividing by 255).
        let mean = m.train.images.iter().map(|&v| v as u64).sum::<u64>() as f64
            / m.train.images.len() as f64;
        assert!((mean - 33.3184).abs() < 1e-3, "mean {mean}");
    }
}
