//! Your own images: a folder with one subfolder per class, as Keras's
//! `image_dataset_from_directory` and torchvision's `ImageFolder` read it.
//!
//! ```text
//! pets/
//!   cat/   001.jpg 002.png ...
//!   dog/   a.jpeg  holiday/b.jpg ...
//! ```
//!
//! [`load`] decodes every PNG and JPEG (the EXIF orientation applied, so
//! a photo stands as it was shown), converts it to grey (Rec. 709 luma) or
//! RGB, scales it with a triangle filter so that it covers the target
//! `h x w` with its aspect ratio kept (the shorter side, relative to the
//! target, becomes the target's), crops the centre, and stores the pixels as 0..=1 floats in a
//! [`Dataset`]. Classes are the subfolders in sorted name order (label 0
//! is the first); files inside a class are read in sorted path order,
//! subfolders included, so the same folder always gives the same data set.
//!
//! A file that cannot be read (corrupt, truncated, not an image) does not
//! stop the load: the [`FolderReport`] names every one with the reason,
//! beside the classes found and their counts. Only a folder that cannot
//! make a data set at all is an `Err`: it is missing, it has no class
//! folders, or a class has no readable image. Hidden files and folders
//! (names starting with `.`, such as `.DS_Store`) are left alone.
//!
//! Decoding runs on the [`crate::parallel`] pool, one file per task; the
//! result does not depend on the thread count.

use std::fmt;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use crate::data::Dataset;
use crate::error::{Error, Result};
use crate::io::decode::decode;
use crate::io::resize::resize_to_fill;

/// One class found by [`load`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClassCount {
    /// The folder's name; the label is the class's position in
    /// [`FolderReport::classes`].
    pub name: String,
    /// Images read from it.
    pub images: usize,
}

/// A file [`load`] could not read, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unreadable {
    /// The file.
    pub path: PathBuf,
    /// What is wrong with it, e.g. `not a PNG or JPEG image`.
    pub reason: String,
}

/// What [`load`] found: the classes with their counts, and every file it
/// left out. `Display` prints it as a short table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FolderReport {
    /// The folder that was read.
    pub root: PathBuf,
    /// The shape every image was brought to, `[h, w, c]`.
    pub shape: [usize; 3],
    /// The classes in label order (sorted folder names).
    pub classes: Vec<ClassCount>,
    /// Files inside the class folders that could not be read, in path order.
    pub unreadable: Vec<Unreadable>,
    /// Files at the top of the folder, outside every class folder (a
    /// README, a CSV of labels): not part of the data set.
    pub ignored: Vec<PathBuf>,
}

impl FolderReport {
    /// The class names in label order.
    pub fn class_names(&self) -> Vec<&str> {
        self.classes.iter().map(|c| c.name.as_str()).collect()
    }

    /// Images read, over all classes.
    pub fn images(&self) -> usize {
        self.classes.iter().map(|c| c.images).sum()
    }

    /// `path` inside the folder, as the table prints it.
    fn relative<'a>(&self, path: &'a Path) -> &'a Path {
        path.strip_prefix(&self.root).unwrap_or(path)
    }
}

impl fmt::Display for FolderReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let [h, w, c] = self.shape;
        writeln!(
            f,
            "{}: {} images in {} classes, each resized and centre-cropped to {h}x{w}x{c}",
            self.root.display(),
            self.images(),
            self.classes.len(),
        )?;
        let name_width = self
            .classes
            .iter()
            .map(|c| c.name.chars().count())
            .max()
            .unwrap_or(0)
            .max("class".len());
        let label_width = "label".len();
        writeln!(f, "  label  {:<name_width$}  images", "class")?;
        for (label, class) in self.classes.iter().enumerate() {
            writeln!(
                f,
                "  {label:>label_width$}  {:<name_width$}  {:>6}",
                class.name, class.images
            )?;
        }
        if !self.unreadable.is_empty() {
            let n = self.unreadable.len();
            writeln!(f, "could not read {n} file{}:", plural(n))?;
            for u in &self.unreadable {
                writeln!(f, "  {}: {}", self.relative(&u.path).display(), u.reason)?;
            }
        }
        if !self.ignored.is_empty() {
            let n = self.ignored.len();
            writeln!(
                f,
                "ignored {n} file{} outside the class folders:",
                plural(n)
            )?;
            for p in &self.ignored {
                writeln!(f, "  {}", self.relative(p).display())?;
            }
        }
        Ok(())
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

/// Reads the folder `dir` of class folders into a [`Dataset`] of `shape`
/// (`[h, w, c]`, with `c` 1 for grey or 3 for RGB; a network's
/// `INPUT_SHAPE`), and says what it found. See the module's documentation
/// for what happens to each image.
///
/// `Err` when `shape` is not a valid image shape, when `dir` is missing or
/// not a folder, when it holds no class folder, or when a class folder has
/// no readable image (every such class is named, with what its files were).
pub fn load(dir: impl AsRef<Path>, shape: [usize; 3]) -> Result<(Dataset, FolderReport)> {
    let root = dir.as_ref();
    check_shape(shape)?;
    let (class_dirs, ignored) = class_folders(root)?;
    // (file, class) for every candidate, class by class, each in path order.
    let mut files = Vec::new();
    let mut unreadable = Vec::new();
    for (label, (_, class_dir)) in class_dirs.iter().enumerate() {
        let mut found = Vec::new();
        walk(class_dir, &mut found, &mut unreadable)?;
        found.sort();
        files.extend(found.into_iter().map(|p| (p, label)));
    }

    let per: usize = shape.iter().product();
    let total = files.len().checked_mul(per).ok_or_else(|| {
        Error::InvalidArgument(format!(
            "{}: {} images of {per} values do not fit in memory",
            root.display(),
            files.len()
        ))
    })?;
    let mut x = vec![0f32; total];
    let reasons = decode_all(&files, shape, &mut x);

    // Keep the images that were read, in order, moving them down over the
    // slots of those that were not.
    let mut labels = Vec::with_capacity(files.len());
    let mut counts = vec![0usize; class_dirs.len()];
    for (i, ((path, label), reason)) in files.into_iter().zip(reasons).enumerate() {
        match reason {
            None => {
                let k = labels.len();
                if k != i {
                    x.copy_within(i * per..(i + 1) * per, k * per);
                }
                labels.push(label);
                counts[label] += 1;
            }
            Some(reason) => unreadable.push(Unreadable { path, reason }),
        }
    }
    x.truncate(labels.len() * per);
    unreadable.sort_by(|a, b| a.path.cmp(&b.path));

    let empty: Vec<usize> = (0..counts.len()).filter(|&k| counts[k] == 0).collect();
    if !empty.is_empty() {
        return Err(empty_classes(root, &class_dirs, &empty, &unreadable));
    }
    let report = FolderReport {
        root: root.to_path_buf(),
        shape,
        classes: class_dirs
            .into_iter()
            .zip(&counts)
            .map(|((name, _), &images)| ClassCount { name, images })
            .collect(),
        unreadable,
        ignored,
    };
    let dataset = Dataset::new(shape, x, labels, report.classes.len())?;
    Ok((dataset, report))
}

/// 1..=u32::MAX rows and columns (PNG's and JPEG's limit), 1 or 3 channels.
fn check_shape(shape: [usize; 3]) -> Result<()> {
    let [h, w, c] = shape;
    let side = |n: usize| n > 0 && u32::try_from(n).is_ok();
    if !side(h) || !side(w) || !(c == 1 || c == 3) {
        return Err(Error::InvalidArgument(format!(
            "image folder: shape {h}x{w}x{c} must be [h, w, c] with h and w at least 1 \
             and c = 1 (grey) or 3 (RGB)"
        )));
    }
    Ok(())
}

/// Whether a file or folder name starts with `.` (hidden on Unix; macOS's
/// `.DS_Store` and `._photo.jpg`).
fn hidden(path: &Path) -> bool {
    path.file_name()
        .is_some_and(|n| n.to_string_lossy().starts_with('.'))
}

/// A class folder: its name (the class's) and its path.
type ClassDir = (String, PathBuf);

/// The class folders of `root` in sorted name order, and the other files at
/// its top level.
fn class_folders(root: &Path) -> Result<(Vec<ClassDir>, Vec<PathBuf>)> {
    let meta = fs::metadata(root).map_err(|e| Error::io(root, e))?;
    if !meta.is_dir() {
        return Err(Error::io(
            root,
            io::Error::new(
                io::ErrorKind::NotADirectory,
                "not a folder: expected a folder with one subfolder of images per class",
            ),
        ));
    }
    let mut classes = Vec::new();
    let mut ignored = Vec::new();
    for entry in fs::read_dir(root).map_err(|e| Error::io(root, e))? {
        let path = entry.map_err(|e| Error::io(root, e))?.path();
        if hidden(&path) {
            continue;
        }
        // Follows links: a class folder may be a link to one elsewhere.
        if fs::metadata(&path).is_ok_and(|m| m.is_dir()) {
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            classes.push((name, path));
        } else {
            ignored.push(path);
        }
    }
    if classes.is_empty() {
        let found = match ignored.len() {
            0 => "it is empty".to_string(),
            n => format!("it holds {n} file{} and no folder", plural(n)),
        };
        return Err(Error::format(
            root,
            format!(
                "no class folders ({found}): expected one subfolder per class, \
                 such as cat/ and dog/, each holding that class's PNG and JPEG images"
            ),
        ));
    }
    classes.sort();
    ignored.sort();
    Ok((classes, ignored))
}

/// Every non-hidden file under `dir`, subfolders included. A subfolder that
/// cannot be listed, or a link to a folder (not followed, so that a link
/// cannot make a loop), goes to `unreadable`; a class folder that cannot be
/// listed at all is an `Err`.
fn walk(dir: &Path, files: &mut Vec<PathBuf>, unreadable: &mut Vec<Unreadable>) -> Result<()> {
    let mut stack = vec![dir.to_path_buf()];
    while let Some(folder) = stack.pop() {
        let entries = match fs::read_dir(&folder) {
            Ok(entries) => entries,
            Err(e) if folder == dir => return Err(Error::io(dir, e)),
            Err(e) => {
                unreadable.push(Unreadable {
                    path: folder,
                    reason: format!("cannot list this folder: {e}"),
                });
                continue;
            }
        };
        for entry in entries {
            let entry = match entry {
                Ok(entry) => entry,
                Err(e) => {
                    unreadable.push(Unreadable {
                        path: folder.clone(),
                        reason: format!("cannot list this folder: {e}"),
                    });
                    break;
                }
            };
            let path = entry.path();
            if hidden(&path) {
                continue;
            }
            match entry.file_type() {
                Ok(t) if t.is_dir() => stack.push(path),
                Ok(t) if t.is_symlink() && fs::metadata(&path).is_ok_and(|m| m.is_dir()) => {
                    unreadable.push(Unreadable {
                        path,
                        reason: "a link to a folder: not followed".into(),
                    })
                }
                // Files, links to files, and broken links (whose read fails
                // with the reason).
                _ => files.push(path),
            }
        }
    }
    Ok(())
}

/// Decodes `files` into consecutive `shape` slots of `x` on the thread
/// pool; returns, per file, `None` if it was read or the reason it was not.
fn decode_all(files: &[(PathBuf, usize)], shape: [usize; 3], x: &mut [f32]) -> Vec<Option<String>> {
    let per: usize = shape.iter().product();
    let slots: Vec<Mutex<&mut [f32]>> = x.chunks_mut(per).map(Mutex::new).collect();
    let reasons: Vec<Mutex<Option<String>>> = files.iter().map(|_| Mutex::new(None)).collect();
    crate::parallel::for_each(files.len(), &|i| {
        // Each index is one task, so no lock here is ever contended.
        let mut slot = slots[i].lock().unwrap_or_else(|p| p.into_inner());
        // Decoders parse untrusted bytes: should one panic on a file, that
        // file is reported like any other that cannot be read.
        let read = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            read_into(&files[i].0, shape, &mut slot)
        }))
        .unwrap_or_else(|_| Err("the decoder failed on this file (it panicked)".into()));
        if let Err(reason) = read {
            *reasons[i].lock().unwrap_or_else(|p| p.into_inner()) = Some(reason);
        }
    });
    reasons
        .into_iter()
        .map(|r| r.into_inner().unwrap_or_else(|p| p.into_inner()))
        .collect()
}

/// Decodes one file into `out` (`h * w * c` values in 0..=1), or says why not.
fn read_into(path: &Path, [h, w, c]: [usize; 3], out: &mut [f32]) -> Result<(), String> {
    let bytes = fs::read(path).map_err(|e| format!("cannot read: {e}"))?;
    let img = decode(&bytes, c)?;
    if bytes.starts_with(&[0xFF, 0xD8]) && !jpeg_reaches_its_end(&bytes) {
        return Err("truncated JPEG: the file ends before its end-of-image marker".into());
    }
    let pixels: Vec<f32> = img.data.iter().map(|&b| f32::from(b)).collect();
    // Rounded to 8 bits after resizing, as the pixels of a resized image
    // file would be.
    let pixels = if (img.height, img.width) == (h, w) {
        pixels
    } else {
        resize_to_fill(&pixels, [img.height, img.width, c], [h, w], 255.0, true)
    };
    if pixels.len() != out.len() {
        return Err(format!(
            "resized to {} values where {h}x{w}x{c} = {} were expected",
            pixels.len(),
            out.len()
        ));
    }
    for (o, v) in out.iter_mut().zip(pixels) {
        *o = v / 255.0;
    }
    Ok(())
}

/// Whether a JPEG's segments run to its end-of-image marker (`FF D9`).
/// The JPEG decoder fills a truncated file's missing rows with grey and
/// reports no error, so a cut download would otherwise train as an image.
/// Segments are skipped by their lengths (so a thumbnail inside the EXIF
/// block, which has its own end marker, is stepped over), and after each
/// start of scan the entropy-coded bytes are skipped up to the next marker
/// (`FF 00` is a stuffed byte, `FF D0`..`FF D7` are restart markers).
fn jpeg_reaches_its_end(b: &[u8]) -> bool {
    let mut i = 2; // after the start-of-image marker FF D8
    loop {
        if b.get(i) != Some(&0xFF) {
            return false;
        }
        while b.get(i) == Some(&0xFF) {
            i += 1; // a marker may be preceded by fill bytes FF
        }
        let Some(&marker) = b.get(i) else {
            return false;
        };
        i += 1;
        match marker {
            0xD9 => return true,
            0x01 | 0xD0..=0xD7 => continue, // markers without a length
            _ => {}
        }
        let (Some(&hi), Some(&lo)) = (b.get(i), b.get(i + 1)) else {
            return false;
        };
        let len = usize::from(u16::from_be_bytes([hi, lo]));
        if len < 2 {
            return false;
        }
        i += len;
        if marker == 0xDA {
            // Entropy-coded data up to the next real marker.
            loop {
                match (b.get(i), b.get(i + 1)) {
                    (Some(0xFF), Some(0x00 | 0xD0..=0xD7 | 0xFF)) => i += 1,
                    (Some(0xFF), Some(_)) => break,
                    (Some(_), _) => i += 1,
                    (None, _) => return false,
                }
            }
        }
    }
}

/// The error for classes with no readable image: each named, with what
/// was wrong with its files.
fn empty_classes(
    root: &Path,
    class_dirs: &[ClassDir],
    empty: &[usize],
    unreadable: &[Unreadable],
) -> Error {
    let describe = |k: usize| {
        let dir = &class_dirs[k].1;
        let bad: Vec<&Unreadable> = unreadable
            .iter()
            .filter(|u| u.path.starts_with(dir))
            .collect();
        match bad.len() {
            0 => "no files".to_string(),
            n => {
                let shown: Vec<String> = bad
                    .iter()
                    .take(3)
                    .map(|u| {
                        let name = u.path.strip_prefix(dir).unwrap_or(&u.path);
                        format!("{}: {}", name.display(), u.reason)
                    })
                    .collect();
                let more = if n > 3 { "; ..." } else { "" };
                format!(
                    "{n} file{} that could not be read ({}{more})",
                    plural(n),
                    shown.join("; ")
                )
            }
        }
    };
    let help = "every class folder needs at least one PNG or JPEG image";
    if let [k] = empty {
        return Error::format(
            &class_dirs[*k].1,
            format!(
                "class `{}` has no readable image: {}; {help}",
                class_dirs[*k].0,
                describe(*k)
            ),
        );
    }
    let list: Vec<String> = empty
        .iter()
        .map(|&k| format!("`{}` ({})", class_dirs[k].0, describe(k)))
        .collect();
    Error::format(
        root,
        format!(
            "{} classes have no readable image: {}; {help}",
            empty.len(),
            list.join(", ")
        ),
    )
}

#[cfg(test)]
#[path = "folder_tests.rs"]
mod tests;
