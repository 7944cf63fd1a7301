//! Glyphs: an Omniglot-like set for one-shot learning, vendored in the
//! repository's `data/glyphs/` (see `data/README.md` for how it was made
//! and the fonts' licences; [`vendored_dir`] finds it). A class is one
//! letter of one alphabet and its examples are that letter rendered by
//! every font face that has it (6 to 62), 32x32 grey, ink 255 on 0.
//! Train embeddings on the `background` set (534 letters of 12
//! alphabets); measure one-shot recognition on the `evaluation` set (248
//! letters of 5 other alphabets), whose letters never appear in training.
//!
//! Each set is an IDX image file `<set>-images-idx3-ubyte(.gz)` and a CSV
//! `<set>.csv(.gz)` with the header `index,class,alphabet,codepoint,font`
//! and one row per image, in the images' order. `class` numbers letters
//! across both sets; [`GlyphSet`] also numbers them `0..letters` within
//! its set, which is the label a network or a sampler takes.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use super::{find, idx};
use crate::error::{Error, Result};
use crate::train::Dataset;

/// The two sets, by file name.
pub const SETS: [&str; 2] = ["background", "evaluation"];

/// The CSV's header.
const HEADER: &str = "index,class,alphabet,codepoint,font";

/// The training and the one-shot evaluation sets.
#[derive(Clone, Debug)]
pub struct Glyphs {
    /// 534 letters of 12 alphabets, for training.
    pub background: GlyphSet,
    /// 248 letters of 5 other alphabets, for one-shot evaluation.
    pub evaluation: GlyphSet,
}

/// One set: images, the letter of each, and the alphabet and code point of
/// each letter.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GlyphSet {
    /// `len() * height * width` bytes, image after image, row-major.
    pub images: Vec<u8>,
    /// Rows of every image (32).
    pub height: usize,
    /// Columns of every image (32).
    pub width: usize,
    /// The letter of each image, numbered `0..letter_count()` within this
    /// set in order of first appearance: the identity label.
    pub letters: Vec<usize>,
    /// The font face each image was rendered with (its file name).
    pub fonts: Vec<String>,
    /// For each letter, the CSV's class number (unique across both sets).
    pub letter_class: Vec<usize>,
    /// For each letter, its Unicode code point.
    pub letter_codepoint: Vec<u32>,
    /// For each letter, its alphabet's index in [`GlyphSet::alphabets`].
    pub letter_alphabet: Vec<usize>,
    /// The alphabets' names (`Latin`, `Canadian_Aboriginal`), in order of
    /// first appearance.
    pub alphabets: Vec<String>,
}

impl GlyphSet {
    /// The number of images.
    pub fn len(&self) -> usize {
        self.letters.len()
    }

    /// Whether there are no images.
    pub fn is_empty(&self) -> bool {
        self.letters.is_empty()
    }

    /// The number of letters (identities).
    pub fn letter_count(&self) -> usize {
        self.letter_class.len()
    }

    /// The bytes of image `i`, or `None` past the end.
    pub fn image(&self, i: usize) -> Option<&[u8]> {
        let p = self.height * self.width;
        self.images
            .get(i.checked_mul(p)?..i.checked_mul(p)?.checked_add(p)?)
    }

    /// The letters of alphabet `alphabet` (an index into
    /// [`GlyphSet::alphabets`]), in order.
    pub fn letters_of(&self, alphabet: usize) -> Vec<usize> {
        (0..self.letter_count())
            .filter(|&l| self.letter_alphabet[l] == alphabet)
            .collect()
    }

    /// The images as a [`Dataset`] of `[height, width, 1]` examples with
    /// pixels scaled to 0..=1 and the letters as labels, for the training
    /// loop, the augmentation queue and [`crate::embed::PkSampler`].
    pub fn to_dataset(&self) -> Result<Dataset> {
        let x = self.images.iter().map(|&p| p as f32 / 255.0).collect();
        Dataset::new(
            [self.height, self.width, 1],
            x,
            self.letters.clone(),
            self.letter_count().max(1),
        )
    }
}

/// Reads both sets from `dir`.
pub fn load(dir: &Path) -> Result<Glyphs> {
    Ok(Glyphs {
        background: load_set(dir, SETS[0])?,
        evaluation: load_set(dir, SETS[1])?,
    })
}

/// Reads the set `name` (`"background"` or `"evaluation"`) from `dir`:
/// the images and the CSV must agree row for row. Every problem is an
/// `Err` naming the file (and the CSV's line).
pub fn load_set(dir: &Path, name: &str) -> Result<GlyphSet> {
    let images_path = find(dir, &format!("{name}-images-idx3-ubyte"))?;
    let csv_path = find(dir, &format!("{name}.csv"))?;
    let images = idx::read_images(&images_path)?;
    let (n, height, width) = (images.dims[0], images.dims[1], images.dims[2]);
    let text = String::from_utf8(idx::read_maybe_gzip(&csv_path)?)
        .map_err(|e| Error::format(&csv_path, format!("not UTF-8 text: {e}")))?;
    let bad =
        |line: usize, message: String| Error::format(&csv_path, format!("line {line}: {message}"));
    let mut lines = text.lines();
    match lines.next() {
        Some(h) if h.trim_end() == HEADER => {}
        other => {
            return Err(bad(
                1,
                format!("header {:?}, expected {HEADER:?}", other.unwrap_or("")),
            ));
        }
    }
    let mut set = GlyphSet {
        images: images.data,
        height,
        width,
        letters: Vec::with_capacity(n),
        fonts: Vec::with_capacity(n),
        letter_class: Vec::new(),
        letter_codepoint: Vec::new(),
        letter_alphabet: Vec::new(),
        alphabets: Vec::new(),
    };
    let mut letter_of_class: HashMap<usize, usize> = HashMap::new();
    for (row, text) in lines.enumerate() {
        let line = row + 2;
        let fields: Vec<&str> = text.trim_end().split(',').collect();
        let [index, class, alphabet, codepoint, font] = fields[..] else {
            return Err(bad(
                line,
                format!("{} fields, expected 5 ({HEADER})", fields.len()),
            ));
        };
        if index.parse::<usize>().ok() != Some(row) {
            return Err(bad(line, format!("index {index:?}, expected {row}")));
        }
        let class: usize = class
            .parse()
            .map_err(|_| bad(line, format!("class {class:?} is not a number")))?;
        let codepoint = codepoint
            .strip_prefix("U+")
            .and_then(|h| u32::from_str_radix(h, 16).ok())
            .ok_or_else(|| bad(line, format!("code point {codepoint:?} is not U+hex")))?;
        if alphabet.is_empty() || font.is_empty() {
            return Err(bad(line, "an empty alphabet or font".into()));
        }
        let a = match set.alphabets.iter().position(|x| x == alphabet) {
            Some(a) => a,
            None => {
                set.alphabets.push(alphabet.to_string());
                set.alphabets.len() - 1
            }
        };
        let letter = *letter_of_class.entry(class).or_insert_with(|| {
            set.letter_class.push(class);
            set.letter_codepoint.push(codepoint);
            set.letter_alphabet.push(a);
            set.letter_class.len() - 1
        });
        if (set.letter_codepoint[letter], set.letter_alphabet[letter]) != (codepoint, a) {
            return Err(bad(
                line,
                format!("class {class} is U+{codepoint:04X} of {alphabet} here but not on its first row"),
            ));
        }
        set.letters.push(letter);
        set.fonts.push(font.to_string());
    }
    if set.letters.len() != n {
        return Err(Error::format(
            &csv_path,
            format!(
                "{} rows but {} holds {n} images; the counts must be equal",
                set.letters.len(),
                images_path.display()
            ),
        ));
    }
    Ok(set)
}

/// `data/glyphs` at the root of the `cnn` repository, found from this
/// crate's source directory.
pub fn vendored_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("data")
        .join("glyphs")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::idx::encode;
    use crate::io::test_dir;
    use std::fs;

    const ROWS: &str = "index,class,alphabet,codepoint,font\n\
                        0,7,Latin,U+0041,A.ttf\n1,7,Latin,U+0041,B.ttf\n\
                        2,9,Greek,U+0391,A.ttf\n3,8,Latin,U+0042,A.ttf\n";

    fn write(dir: &Path, rows: &str, images: usize) {
        let pixels: Vec<u8> = (0..images * 4).map(|i| i as u8).collect();
        fs::write(
            dir.join("background-images-idx3-ubyte"),
            encode(&[images, 2, 2], &pixels),
        )
        .unwrap();
        fs::write(dir.join("background.csv"), rows).unwrap();
    }

    fn message(dir: &Path) -> String {
        match load_set(dir, "background") {
            Err(Error::Format { message, .. }) => message,
            other => panic!("expected a format error, got {:?}", other.map(|s| s.len())),
        }
    }

    #[test]
    fn reads_letters_and_alphabets() {
        let dir = test_dir("glyphs-small");
        write(&dir, ROWS, 4);
        let s = load_set(&dir, "background").unwrap();
        assert_eq!(s.letters, [0, 0, 1, 2]);
        assert_eq!(s.letter_class, [7, 9, 8]);
        assert_eq!(s.letter_codepoint, [0x41, 0x391, 0x42]);
        assert_eq!(s.alphabets, ["Latin", "Greek"]);
        assert_eq!(s.letter_alphabet, [0, 1, 0]);
        assert_eq!(s.letters_of(0), [0, 2]);
        assert_eq!(s.fonts[1], "B.ttf");
        assert_eq!(s.image(3).unwrap(), &[12, 13, 14, 15]);
        let d = s.to_dataset().unwrap();
        assert_eq!((d.len(), d.classes(), d.labels()[3]), (4, 3, 2));
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn a_csv_that_disagrees_is_an_error_naming_the_line() {
        let dir = test_dir("glyphs-bad");
        write(&dir, ROWS, 5);
        assert!(message(&dir).starts_with("4 rows but"));
        for (rows, want) in [
            ("index,class\n", "line 1: header"),
            (
                "index,class,alphabet,codepoint,font\n0,7,Latin,U+0041\n",
                "line 2: 4 fields",
            ),
            (
                "index,class,alphabet,codepoint,font\n1,7,Latin,U+0041,A\n",
                "line 2: index \"1\"",
            ),
            (
                "index,class,alphabet,codepoint,font\n0,x,Latin,U+0041,A\n",
                "line 2: class \"x\"",
            ),
            (
                "index,class,alphabet,codepoint,font\n0,7,Latin,0041,A\n",
                "line 2: code point",
            ),
            (
                "index,class,alphabet,codepoint,font\n0,7,Latin,U+0041,A\n1,7,Latin,U+0042,A\n",
                "line 3: class 7 is U+0042",
            ),
        ] {
            write(&dir, rows, 1);
            let m = message(&dir);
            assert!(m.starts_with(want), "{m}");
        }
        fs::remove_file(dir.join("background.csv")).unwrap();
        assert!(matches!(
            load_set(&dir, "background"),
            Err(Error::Io { .. })
        ));
        fs::remove_dir_all(dir).unwrap();
    }

    /// The vendored copy, against the figures in `data/README.md`.
    #[test]
    fn vendored_glyphs_match_their_readme() {
        let g = load(&vendored_dir()).unwrap();
        let (b, e) = (&g.background, &g.evaluation);
        assert_eq!(
            (b.len(), b.letter_count(), b.alphabets.len()),
            (14_382, 534, 12)
        );
        assert_eq!(
            (e.len(), e.letter_count(), e.alphabets.len()),
            (5_403, 248, 5)
        );
        assert_eq!((b.height, b.width), (32, 32));
        assert_eq!(b.letter_codepoint[0], 0x41);
        assert_eq!(
            e.alphabets,
            ["Armenian", "Gurmukhi", "Sinhala", "Lao", "Georgian"]
        );
        assert_eq!(b.letters_of(0).len(), 52); // Latin: A-Z, a-z
        let sum: u32 = b.image(0).unwrap().iter().map(|&p| p as u32).sum();
        assert_eq!(sum, 72_763);
        // No letter is in both sets.
        assert!(e.letter_class.iter().all(|c| !b.letter_class.contains(c)));
        let mut counts = vec![0; b.letter_count()];
        for &l in &b.letters {
            counts[l] += 1;
        }
        assert_eq!(
            (counts.iter().min(), counts.iter().max()),
            (Some(&6), Some(&62))
        );
    }
}
