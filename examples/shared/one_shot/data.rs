//! The identities the example trains on and those it is tested on, which
//! never overlap: the glyphs' background and evaluation alphabets, MNIST's
//! digits 0-4 (training images) and 5-9 (test images), or a folder of
//! people split by person. Every image is brought to the encoder's
//! `32x32x1`, ink or light 1 on 0.

use cnn::data::Dataset;
use cnn::rng::Rng;
use cnn::Error;
use std::path::Path;

/// The side of the encoder's square input.
pub const SIDE: usize = 32;

/// Images of identities: the labels of `data` are identities
/// `0..names.len()`, each in a group (an alphabet) that episodes and
/// different pairs are drawn within.
#[derive(Clone)]
pub struct Identities {
    /// `[32, 32, 1]` images in 0..=1, labelled by identity.
    pub data: Dataset,
    /// Each identity's name, as the gallery stores it.
    pub names: Vec<String>,
    /// Each identity's group, an index into `group_names`.
    pub group_of: Vec<usize>,
    /// The groups' names (alphabets; one group `all` elsewhere).
    pub group_names: Vec<String>,
}

/// Training and test identities, disjoint.
pub struct Split {
    /// What was read, for the first line of the run.
    pub description: String,
    /// The identities the networks train on.
    pub train: Identities,
    /// The identities never seen in training.
    pub test: Identities,
    /// What the test identities are, as the result lines name them:
    /// `alphabets`, `digits` or `identities`.
    pub unseen: &'static str,
    /// A folder's people, training and test together: the gallery
    /// enrols them all.
    pub everyone: Option<Identities>,
}

impl Identities {
    /// The number of identities.
    pub fn count(&self) -> usize {
        self.names.len()
    }

    /// The images of each identity, by identity.
    pub fn images_by_identity(&self) -> Vec<Vec<usize>> {
        let mut by = vec![Vec::new(); self.count()];
        for (i, &l) in self.data.labels().iter().enumerate() {
            by[l].push(i);
        }
        by
    }

    /// The identities `keep` (in that order, relabelled `0..keep.len()`)
    /// with all their images.
    pub fn subset(&self, keep: &[usize]) -> Result<Identities, Error> {
        let mut new_label = vec![usize::MAX; self.count()];
        for (k, &id) in keep.iter().enumerate() {
            new_label[id] = k;
        }
        let idx: Vec<usize> = (0..self.data.len())
            .filter(|&i| new_label[self.data.labels()[i]] != usize::MAX)
            .collect();
        let labels = idx
            .iter()
            .map(|&i| new_label[self.data.labels()[i]])
            .collect();
        let images = self.data.select(&idx).images().to_vec();
        Ok(Identities {
            data: Dataset::new(self.data.shape(), images, labels, keep.len().max(1))?,
            names: keep.iter().map(|&id| self.names[id].clone()).collect(),
            group_of: keep.iter().map(|&id| self.group_of[id]).collect(),
            group_names: self.group_names.clone(),
        })
    }

    /// At most `per_group` identities of each group (the first ones): a
    /// small set for quick runs and the integration test.
    pub fn first_of_each_group(&self, per_group: usize) -> Result<Identities, Error> {
        let mut taken = vec![0usize; self.group_names.len()];
        let keep: Vec<usize> = (0..self.count())
            .filter(|&id| {
                let g = self.group_of[id];
                taken[g] += 1;
                taken[g] <= per_group
            })
            .collect();
        self.subset(&keep)
    }

    /// At most `per_identity` images of each identity (the first ones): a
    /// small set for quick runs and the integration test.
    pub fn first_images_of_each(&self, per_identity: usize) -> Result<Identities, Error> {
        let mut taken = vec![0usize; self.count()];
        let keep: Vec<usize> = (0..self.data.len())
            .filter(|&i| {
                let id = self.data.labels()[i];
                taken[id] += 1;
                taken[id] <= per_identity
            })
            .collect();
        Ok(Identities {
            data: self.data.select(&keep),
            names: self.names.clone(),
            group_of: self.group_of.clone(),
            group_names: self.group_names.clone(),
        })
    }
}

/// The glyphs: background alphabets for training, evaluation alphabets for
/// testing.
pub fn glyphs(dir: &Path) -> Result<Split, Error> {
    let g = cnn::data::glyphs::load(dir)?;
    let to_identities = |set: &cnn::data::glyphs::GlyphSet| -> Result<Identities, Error> {
        let data = pad_to_side(set.to_dataset()?)?;
        let names = (0..set.letter_count())
            .map(|l| {
                let alphabet = &set.alphabets[set.letter_alphabet[l]];
                format!("{alphabet} U+{:04X}", set.letter_codepoint[l])
            })
            .collect();
        Ok(Identities {
            data,
            names,
            group_of: set.letter_alphabet.clone(),
            group_names: set.alphabets.clone(),
        })
    };
    let (train, test) = (to_identities(&g.background)?, to_identities(&g.evaluation)?);
    Ok(Split {
        description: format!(
            "glyphs from {}: {} letters of {} alphabets ({} images) to train on, {} letters of {} \
             other alphabets ({} images) to test on",
            dir.display(),
            train.count(),
            train.group_names.len(),
            train.data.len(),
            test.count(),
            test.group_names.len(),
            test.data.len()
        ),
        train,
        test,
        unseen: "alphabets",
        everyone: None,
    })
}

/// An MNIST-format set: classes `0..classes/2` of the training images to
/// train on, the others of the test images to test on (MNIST: digits 0-4
/// and 5-9). Images up to 32x32 are padded to it, centred.
pub fn mnist(dir: &Path) -> Result<Split, Error> {
    let m = cnn::data::mnist::load(dir)?;
    let half = m.train.classes / 2;
    let take = |set: &cnn::data::LabelledImages, lo: usize, hi: usize| {
        let all = pad_to_side(Dataset::from_labelled(set)?)?;
        let idx: Vec<usize> = (0..all.len())
            .filter(|&i| (lo..hi).contains(&all.labels()[i]))
            .collect();
        let labels = idx.iter().map(|&i| all.labels()[i] - lo).collect();
        let images = all.select(&idx).images().to_vec();
        Ok::<_, Error>(Identities {
            data: Dataset::new(all.shape(), images, labels, hi - lo)?,
            names: (lo..hi).map(|d| format!("digit {d}")).collect(),
            group_of: vec![0; hi - lo],
            group_names: vec!["all".into()],
        })
    };
    let train = take(&m.train, 0, half)?;
    let test = take(&m.test, half, m.train.classes)?;
    Ok(Split {
        description: format!(
            "MNIST-format set from {}: classes 0-{} of the training images ({}) to train on, \
             classes {half}-{} of the test images ({}) to test on",
            dir.display(),
            half - 1,
            train.data.len(),
            m.train.classes - 1,
            test.data.len()
        ),
        train,
        test,
        unseen: "digits",
        everyone: None,
    })
}

/// A folder with one subfolder per person (`data::folder`), read as grey
/// 32x32. The people are shuffled with `seed` and half of them (at least
/// 2) are kept for testing; the rest train.
pub fn folder(dir: &Path, seed: u64) -> Result<Split, Error> {
    let (data, report) = cnn::data::folder::load(dir, [SIDE, SIDE, 1])?;
    let everyone = Identities {
        names: report.class_names().iter().map(|s| s.to_string()).collect(),
        group_of: vec![0; report.classes.len()],
        group_names: vec!["all".into()],
        data,
    };
    let n = everyone.count();
    if n < 4 {
        return Err(Error::InvalidArgument(format!(
            "{}: {n} people; one-shot needs at least 2 to train on and 2 others to test on",
            dir.display()
        )));
    }
    let mut order: Vec<usize> = (0..n).collect();
    Rng::new(seed).shuffle(&mut order);
    let n_test = (n / 2).max(2);
    let (test_ids, train_ids) = order.split_at(n_test);
    let (mut test_ids, mut train_ids) = (test_ids.to_vec(), train_ids.to_vec());
    test_ids.sort_unstable();
    train_ids.sort_unstable();
    let train = everyone.subset(&train_ids)?;
    let test = everyone.subset(&test_ids)?;
    Ok(Split {
        description: format!(
            "{report}{} people ({} images) to train on, {} others ({} images) to test on",
            train.count(),
            train.data.len(),
            test.count(),
            test.data.len()
        ),
        train,
        test,
        unseen: "identities",
        everyone: Some(everyone),
    })
}

/// Pads a set of smaller grey images to 32x32, centred; larger ones or
/// colour are an `Err`.
fn pad_to_side(data: Dataset) -> Result<Dataset, Error> {
    let [h, w, c] = data.shape();
    if h > SIDE || w > SIDE || c != 1 {
        return Err(Error::InvalidArgument(format!(
            "one-shot: images of {h}x{w}x{c}; the encoder takes grey images of at most \
             {SIDE}x{SIDE} (they are padded to it)"
        )));
    }
    let (top, left) = ((SIDE - h) / 2, (SIDE - w) / 2);
    Ok(data.pad([top, SIDE - h - top, left, SIDE - w - left], 0.0))
}
