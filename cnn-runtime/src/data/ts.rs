//! The UCR/UEA archive's `.ts` format (sktime's and aeon's), for time
//! series classification: `#` comment lines, `@` header lines, then
//! `@data` and one case per line, its channels separated by `:`, each a
//! comma-separated list of numbers (`?` or `NaN` for a missing value), and
//! the class label last:
//!
//! ```text
//! @problemName GunPoint
//! @univariate true
//! @equalLength true
//! @seriesLength 150
//! @classLabel true 1 2
//! @data
//! -0.64,-0.64,...,-0.64:2
//! ```
//!
//! The reader checks the headers against the cases (`@dimensions`,
//! `@seriesLength` with `@equalLength true`, labels among `@classLabel`),
//! and anything malformed is an [`Error::Format`] that names the file and
//! the line, never a panic (a test mutates real files byte by byte).
//!
//! What it does with gaps, said once here:
//! - a missing value takes the value before it in its channel (the first
//!   present one for missing values at the start; 0 for a channel with no
//!   value at all);
//! - series shorter than the longest are padded at the end, by default
//!   with each channel's last value ([`Padding::LastValue`]), or with
//!   zeros ([`Padding::Zeros`]).
//!
//! A [`Series`] holds the cases as `[n, length, channels]` (time-major,
//! like a row of an NHWC image of height 1), so
//! [`Series::to_dataset`] gives a [`Dataset`] of height-1 images
//! `[1, length, channels]`, which a network declared with `input:
//! [length, channels]` trains on.

use crate::data::Dataset;
use crate::error::{Error, Result};
use std::path::Path;

/// How series shorter than the longest are filled up to its length.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Padding {
    /// Each channel's last value repeated (the series holds still).
    #[default]
    LastValue,
    /// Zeros.
    Zeros,
}

/// The cases of one `.ts` file.
#[derive(Clone, Debug, PartialEq)]
pub struct Series {
    /// `@problemName`, or the empty string.
    pub problem: String,
    /// The class names in `@classLabel`'s order: label `i` is `classes[i]`.
    pub classes: Vec<String>,
    /// Channels (dimensions) of every case.
    pub channels: usize,
    /// The longest case's length, which every case is padded to.
    pub length: usize,
    /// `[n, length, channels]`, case after case, time-major.
    pub values: Vec<f32>,
    /// Each case's class, an index into `classes`.
    pub labels: Vec<usize>,
    /// Each case's length before padding (its longest channel).
    pub lengths: Vec<usize>,
    /// How many values were missing (`?` or `NaN`) and filled in.
    pub missing: usize,
}

/// Reads a `.ts` file, padding unequal lengths with [`Padding::LastValue`].
pub fn read_ts(path: &Path) -> Result<Series> {
    read_ts_with(path, Padding::LastValue)
}

/// Reads a `.ts` file with the given padding for unequal lengths.
pub fn read_ts_with(path: &Path, padding: Padding) -> Result<Series> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    parse_ts(&bytes, path, padding)
}

/// The headers as read so far.
#[derive(Default)]
struct Headers {
    problem: String,
    classes: Option<Vec<String>>,
    dimensions: Option<usize>,
    equal_length: Option<bool>,
    series_length: Option<usize>,
}

/// Parses the bytes of a `.ts` file; `path` is only named in errors.
pub fn parse_ts(bytes: &[u8], path: &Path, padding: Padding) -> Result<Series> {
    let fail =
        |line: usize, message: String| Error::format(path, format!("line {line}: {message}"));
    let text = std::str::from_utf8(bytes).map_err(|e| {
        let line = 1 + bytes[..e.valid_up_to()]
            .iter()
            .filter(|&&b| b == b'\n')
            .count();
        fail(line, "not UTF-8 text".to_string())
    })?;
    let mut headers = Headers::default();
    let mut in_data = false;
    // Each case's channels, ragged, with its line for later messages.
    let mut cases: Vec<(usize, Vec<Vec<f32>>)> = Vec::new();
    let mut labels = Vec::new();
    let mut missing = 0usize;
    let mut last_line = 0;
    for (i, raw) in text.lines().enumerate() {
        let line_no = i + 1;
        last_line = line_no;
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if !in_data {
            if line.eq_ignore_ascii_case("@data") {
                if headers.classes.is_none() {
                    return Err(fail(
                        line_no,
                        "@data before `@classLabel true <labels>`: only classification files are read".into(),
                    ));
                }
                in_data = true;
                continue;
            }
            header(&mut headers, line).map_err(|m| fail(line_no, m))?;
            continue;
        }
        if line.starts_with('@') {
            return Err(fail(
                line_no,
                format!("header `{}` after @data", first_word(line)),
            ));
        }
        let classes = headers.classes.as_deref().unwrap_or_default();
        let (channels, label) = case(line, classes, &mut missing).map_err(|m| fail(line_no, m))?;
        let want = headers.dimensions.or(cases.first().map(|(_, c)| c.len()));
        if let Some(want) = want {
            if channels.len() != want {
                let from = if headers.dimensions.is_some() {
                    "@dimensions says"
                } else {
                    "the first case has"
                };
                return Err(fail(
                    line_no,
                    format!("{} channels, but {from} {want}", channels.len()),
                ));
            }
        }
        if headers.equal_length == Some(true) {
            let want = headers
                .series_length
                .or(cases.first().map(|(_, c)| c[0].len()));
            if let Some(bad) = channels.iter().find(|c| Some(c.len()) != want) {
                return Err(fail(
                    line_no,
                    format!(
                        "a channel of length {} in a file with @equalLength true and length {}",
                        bad.len(),
                        want.unwrap_or_default()
                    ),
                ));
            }
        }
        cases.push((line_no, channels));
        labels.push(label);
    }
    if !in_data {
        return Err(fail(last_line.max(1), "no @data line".into()));
    }
    if cases.is_empty() {
        return Err(fail(last_line.max(1), "no cases after @data".into()));
    }
    let channels = cases[0].1.len();
    let lengths: Vec<usize> = cases
        .iter()
        .map(|(_, c)| c.iter().map(Vec::len).max().unwrap_or(0))
        .collect();
    let length = lengths.iter().copied().max().unwrap_or(0);
    let total = cases
        .len()
        .checked_mul(length)
        .and_then(|v| v.checked_mul(channels))
        .ok_or_else(|| fail(last_line, "the series do not fit in memory".into()))?;
    let mut values = vec![0.0f32; total];
    for (n, (_, case)) in cases.iter().enumerate() {
        for (ch, channel) in case.iter().enumerate() {
            let pad = match padding {
                Padding::LastValue => channel.last().copied().unwrap_or(0.0),
                Padding::Zeros => 0.0,
            };
            for t in 0..length {
                let v = channel.get(t).copied().unwrap_or(pad);
                values[(n * length + t) * channels + ch] = v;
            }
        }
    }
    Ok(Series {
        problem: headers.problem,
        classes: headers.classes.unwrap_or_default(),
        channels,
        length,
        values,
        labels,
        lengths,
        missing,
    })
}

fn first_word(line: &str) -> &str {
    line.split_whitespace().next().unwrap_or(line)
}

/// Reads one header line into `h`; `Err` says what is wrong with it.
fn header(h: &mut Headers, line: &str) -> std::result::Result<(), String> {
    let mut words = line.split_whitespace();
    let key = words.next().unwrap_or_default();
    let rest: Vec<&str> = words.collect();
    let flag = |rest: &[&str]| match rest {
        [w] if w.eq_ignore_ascii_case("true") => Ok(true),
        [w] if w.eq_ignore_ascii_case("false") => Ok(false),
        _ => Err(format!(
            "`{key}` takes `true` or `false`, got `{}`",
            rest.join(" ")
        )),
    };
    let count = |rest: &[&str]| match rest {
        [w] => w
            .parse::<usize>()
            .ok()
            .filter(|&n| n > 0)
            .ok_or_else(|| format!("`{key}` takes a positive whole number, got `{w}`")),
        _ => Err(format!(
            "`{key}` takes one number, got `{}`",
            rest.join(" ")
        )),
    };
    match key.to_ascii_lowercase().as_str() {
        "@problemname" => h.problem = rest.join(" "),
        "@univariate" => {
            if flag(&rest)? {
                if h.dimensions.is_some_and(|d| d != 1) {
                    return Err("@univariate true but @dimensions is not 1".into());
                }
                h.dimensions = Some(1);
            }
        }
        "@dimensions" => h.dimensions = Some(count(&rest)?),
        "@equallength" => h.equal_length = Some(flag(&rest)?),
        "@serieslength" => h.series_length = Some(count(&rest)?),
        "@missing" => {
            flag(&rest)?;
        }
        "@timestamps" => {
            if flag(&rest)? {
                return Err("@timeStamps true is not supported (only plain values)".into());
            }
        }
        "@classlabel" => match rest.split_first() {
            Some((w, names)) if w.eq_ignore_ascii_case("true") => {
                if names.is_empty() {
                    return Err("`@classLabel true` lists no labels".into());
                }
                let mut seen = std::collections::HashSet::new();
                if let Some(dup) = names.iter().find(|n| !seen.insert(**n)) {
                    return Err(format!("@classLabel lists `{dup}` twice"));
                }
                h.classes = Some(names.iter().map(|s| s.to_string()).collect());
            }
            Some((w, _)) if w.eq_ignore_ascii_case("false") => {
                return Err("`@classLabel false`: only classification files are read".into())
            }
            _ => return Err("`@classLabel` takes `true` and the labels".into()),
        },
        _ if key.starts_with('@') => return Err(format!("unknown header `{key}`")),
        _ => {
            let shown: String = line.chars().take(20).collect();
            return Err(format!(
                "`{shown}` before @data is neither a header nor a comment"
            ));
        }
    }
    Ok(())
}

/// One case: its channels (missing values filled in) and its label.
fn case(
    line: &str,
    classes: &[String],
    missing: &mut usize,
) -> std::result::Result<(Vec<Vec<f32>>, usize), String> {
    let mut parts: Vec<&str> = line.split(':').collect();
    let label_text = parts.pop().unwrap_or_default().trim();
    if parts.is_empty() {
        return Err("a case needs its values, `:`, and its class label".into());
    }
    let label = classes
        .iter()
        .position(|c| c == label_text)
        .ok_or_else(|| {
            let shown: String = label_text.chars().take(20).collect();
            format!(
                "class label `{shown}` is not among @classLabel's {}",
                classes.join(" ")
            )
        })?;
    let mut channels = Vec::with_capacity(parts.len());
    for (ch, part) in parts.iter().enumerate() {
        let mut values = Vec::new();
        let mut gaps = Vec::new();
        for (t, word) in part.split(',').enumerate() {
            let word = word.trim();
            if word == "?" || word.eq_ignore_ascii_case("nan") {
                gaps.push(t);
                values.push(f32::NAN);
                continue;
            }
            match word.parse::<f32>() {
                Ok(v) if v.is_finite() => values.push(v),
                _ => {
                    let shown: String = word.chars().take(20).collect();
                    return Err(format!(
                        "channel {}, value {}: `{shown}` is not a number (nor `?` or NaN)",
                        ch + 1,
                        t + 1
                    ));
                }
            }
        }
        *missing += gaps.len();
        fill_gaps(&mut values);
        channels.push(values);
    }
    Ok((channels, label))
}

/// Each missing value takes the one before it (the first present one at
/// the start; 0 when the channel has none).
fn fill_gaps(values: &mut [f32]) {
    let first = values.iter().copied().find(|v| !v.is_nan()).unwrap_or(0.0);
    let mut last = first;
    for v in values.iter_mut() {
        if v.is_nan() {
            *v = last;
        } else {
            last = *v;
        }
    }
}

impl Series {
    /// The number of cases.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Whether there are no cases (never, for a file that read).
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// Case `i`, `[length, channels]`.
    pub fn case(&self, i: usize) -> &[f32] {
        let per = self.length * self.channels;
        &self.values[i * per..(i + 1) * per]
    }

    /// Z-normalises each case's channels on their own, over the case's
    /// length before padding (padding is then scaled alike): mean 0 and
    /// standard deviation 1, or just mean 0 for a constant channel. This
    /// is the archive's usual preprocessing (Wang et al. 2017).
    pub fn z_normalise(&mut self) {
        let (length, channels) = (self.length, self.channels);
        for (n, &len) in self.lengths.iter().enumerate() {
            let case = &mut self.values[n * length * channels..(n + 1) * length * channels];
            for ch in 0..channels {
                let used = len.max(1) as f64;
                let mean = (0..len)
                    .map(|t| case[t * channels + ch] as f64)
                    .sum::<f64>()
                    / used;
                let var = (0..len)
                    .map(|t| (case[t * channels + ch] as f64 - mean).powi(2))
                    .sum::<f64>()
                    / used;
                let std = if var > 1e-16 { var.sqrt() } else { 1.0 };
                for t in 0..length {
                    let v = &mut case[t * channels + ch];
                    *v = ((*v as f64 - mean) / std) as f32;
                }
            }
        }
    }

    /// Each channel's mean and standard deviation over every case's steps
    /// before padding: what [`Series::standardise`] takes, computed on a
    /// training split and applied to both splits (the usual preprocessing
    /// of multivariate sets, whose channels' levels carry information that
    /// [`Series::z_normalise`] would take away). A constant channel has a
    /// deviation of 1.
    pub fn channel_statistics(&self) -> Vec<(f32, f32)> {
        let (length, channels) = (self.length, self.channels);
        let mut sums = vec![(0.0f64, 0.0f64); channels];
        let mut count = 0usize;
        for (n, &len) in self.lengths.iter().enumerate() {
            let case = &self.values[n * length * channels..(n + 1) * length * channels];
            for step in case.chunks(channels).take(len) {
                for (sum, &v) in sums.iter_mut().zip(step) {
                    sum.0 += v as f64;
                    sum.1 += (v as f64) * (v as f64);
                }
            }
            count += len;
        }
        let count = count.max(1) as f64;
        sums.iter()
            .map(|&(s, sq)| {
                let mean = s / count;
                let var = (sq / count - mean * mean).max(0.0);
                let std = if var > 1e-16 { var.sqrt() } else { 1.0 };
                (mean as f32, std as f32)
            })
            .collect()
    }

    /// Every value of channel `c`, padding included, to `(v - mean) / std`
    /// with `stats[c] = (mean, std)` (from [`Series::channel_statistics`]).
    pub fn standardise(&mut self, stats: &[(f32, f32)]) -> Result<()> {
        if stats.len() != self.channels {
            return Err(Error::InvalidArgument(format!(
                "{} channel statistics for a series of {} channels",
                stats.len(),
                self.channels
            )));
        }
        for step in self.values.chunks_mut(self.channels) {
            for (v, &(mean, std)) in step.iter_mut().zip(stats) {
                *v = (*v - mean) / std;
            }
        }
        Ok(())
    }

    /// The cases with their labels as a [`Dataset`] of height-1 images
    /// `[1, length, channels]`, the layout of a network declared with
    /// `input: [length, channels]`.
    pub fn to_dataset(&self) -> Result<Dataset> {
        Dataset::new(
            [1, self.length, self.channels],
            self.values.clone(),
            self.labels.clone(),
            self.classes.len(),
        )
    }

    /// The same cases padded (or cut) to `length`, with `padding`: a test
    /// split whose longest case is shorter than the training split's.
    pub fn with_length(&self, length: usize, padding: Padding) -> Series {
        let channels = self.channels;
        let mut values = vec![0.0; self.len() * length * channels];
        for n in 0..self.len() {
            let case = self.case(n);
            let len = self.lengths[n].min(length);
            for ch in 0..channels {
                let last = if len == 0 {
                    0.0
                } else {
                    case[(len - 1) * channels + ch]
                };
                for t in 0..length {
                    values[(n * length + t) * channels + ch] = if t < len {
                        case[t * channels + ch]
                    } else if padding == Padding::LastValue {
                        last
                    } else {
                        0.0
                    };
                }
            }
        }
        Series {
            length,
            values,
            lengths: self.lengths.iter().map(|&l| l.min(length)).collect(),
            ..self.clone()
        }
    }
}

#[cfg(test)]
#[path = "ts_tests.rs"]
mod tests;
