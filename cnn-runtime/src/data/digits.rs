//! scikit-learn's 8x8 handwritten digits: 1,797 images (a copy of the test
//! set of UCI's "Optical Recognition of Handwritten Digits", Alpaydin and
//! Kaynak, 1998), pixels 0..=16, labels 0..=9, stored here in the same IDX
//! format as MNIST (`digits-images-idx3-ubyte[.gz]`,
//! `digits-labels-idx1-ubyte[.gz]`). A copy is vendored in the
//! repository's `data/digits/`. Small enough to train on in a second.

use super::{find, load_pair, LabelledImages};
use crate::error::Result;
use std::path::{Path, PathBuf};

/// File names without `.gz`: images, labels.
pub const FILES: [&str; 2] = ["digits-images-idx3-ubyte", "digits-labels-idx1-ubyte"];

/// Reads the two files from `dir`; counts must agree, labels be 0..=9 and
/// pixels 0..=16 ([`LabelledImages::gather`] divides by 16).
pub fn load(dir: &Path) -> Result<LabelledImages> {
    let images = find(dir, FILES[0])?;
    let labels = find(dir, FILES[1])?;
    load_pair(&images, &labels, 10, 16)
}

/// `data/digits` at the root of the `cnn` repository.
pub fn vendored_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("data")
        .join("digits")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::idx::encode;
    use crate::error::Error;
    use crate::io::test_dir;
    use std::fs;

    /// Against the sanity figures in `data/README.md`.
    #[test]
    fn vendored_digits_match_their_readme() {
        let d = load(&vendored_dir()).unwrap();
        assert_eq!(d.len(), 1797);
        assert_eq!(d.shape(), [8, 8, 1]);
        assert_eq!(d.labels[..10], [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
        assert_eq!(
            d.class_counts(),
            [178, 182, 177, 183, 181, 182, 181, 179, 174, 180]
        );
        let first_rows = [[0, 0, 5, 13, 9, 1, 0, 0], [0, 0, 13, 15, 10, 15, 5, 0]];
        assert_eq!(d.image(0).unwrap()[..16], first_rows.concat()[..]);
        let mut x = vec![0.0; 64];
        d.gather(&[0], &mut x, &mut [0]).unwrap();
        assert_eq!(x[3], 13.0 / 16.0);
    }

    #[test]
    fn pixels_above_16_are_rejected() {
        let dir = test_dir("digits-pixel");
        let mut pixels = vec![0u8; 2 * 64];
        pixels[64 + 5] = 200;
        fs::write(dir.join(FILES[0]), encode(&[2, 8, 8], &pixels)).unwrap();
        fs::write(dir.join(FILES[1]), encode(&[2], &[0, 1])).unwrap();
        match load(&dir) {
            Err(Error::Format { message, .. }) => {
                assert_eq!(
                    message,
                    "pixel 200 in image 1 is out of range: this set's pixels are 0..=16"
                )
            }
            other => panic!("expected Error::Format, got {:?}", other.map(|d| d.len())),
        }
        fs::remove_dir_all(dir).unwrap();
    }
}
