//! Checks that keep the ranks of a job together: [`check_same`] compares
//! what must be equal on every rank (the network's declaration and
//! weights, the data, the settings) once, before the first step, and
//! [`agree`] turns an error on some ranks into the same error on all of
//! them, so that no rank waits in a collective for one that has stopped.

use super::Collective;
use crate::error::{Error, Result};
use crate::rng::splitmix64;
use crate::train::{Dataset, Network};

/// Named numbers that must be equal on every rank, each with what to do
/// when it is not.
#[derive(Default)]
pub struct Fingerprint {
    items: Vec<(String, u64, &'static str)>,
}

impl Fingerprint {
    /// An empty fingerprint.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `value` under `name`; `help` says how to make the ranks agree.
    pub fn add(&mut self, name: impl Into<String>, value: u64, help: &'static str) -> &mut Self {
        self.items.push((name.into(), value, help));
        self
    }

    /// The network: its declaration (the tensor table: names, shapes,
    /// offsets, trainable or not) and the bits of its weights.
    pub fn network<N: Network + ?Sized>(&mut self, net: &N) -> &mut Self {
        let mut h = Hash::new();
        h.bytes(b"tensors");
        for t in net.tensors() {
            h.bytes(t.name.as_bytes());
            h.words(t.shape.iter().map(|&d| d as u64));
            h.words([t.offset as u64, t.len as u64, u64::from(t.trainable)]);
        }
        h.words([net.params().len() as u64]);
        self.add(
            "the network's declaration (its tensor table)",
            h.finish(),
            "every rank must run the same program",
        );
        self.add(
            "the network's weights",
            hash_f32(net.params()),
            "make the network with the same seed on every rank, and load or resume on every rank alike",
        )
    }

    /// A data set: its size, example shape, classes, images and labels.
    pub fn data(&mut self, what: &str, data: &Dataset) -> &mut Self {
        const HELP: &str =
            "every rank must load the same data set (each takes its own shard of every batch)";
        let [h, w, c] = data.shape();
        self.add(
            format!("the number of examples in the {what}"),
            data.len() as u64,
            HELP,
        );
        let mut shape = Hash::new();
        shape.words([h as u64, w as u64, c as u64, data.classes() as u64]);
        self.add(format!("the shape of the {what}"), shape.finish(), HELP);
        let mut labels = Hash::new();
        labels.words(data.labels().iter().map(|&l| l as u64));
        self.add(format!("the labels of the {what}"), labels.finish(), HELP);
        self.add(
            format!("the images of the {what}"),
            hash_f32(data.images()),
            HELP,
        )
    }
}

/// SplitMix64 over 64-bit words: fast, and any changed bit changes it.
struct Hash(u64);

impl Hash {
    fn new() -> Self {
        Hash(0x6A09_E667_F3BC_C908)
    }
    fn words(&mut self, words: impl IntoIterator<Item = u64>) {
        for w in words {
            self.0 = splitmix64(self.0 ^ w);
        }
    }
    fn bytes(&mut self, b: &[u8]) {
        self.words(b.chunks(8).map(|c| {
            let mut w = [0u8; 8];
            w[..c.len()].copy_from_slice(c);
            u64::from_le_bytes(w)
        }));
        self.words([b.len() as u64]);
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

/// The bits of `v`, two values per word.
pub(crate) fn hash_f32(v: &[f32]) -> u64 {
    let mut h = Hash::new();
    let pairs = v.chunks_exact(2);
    let tail = pairs.remainder().first().map(|x| x.to_bits() as u64);
    h.words(pairs.map(|p| (p[0].to_bits() as u64) << 32 | p[1].to_bits() as u64));
    h.words(tail);
    h.words([v.len() as u64]);
    h.finish()
}

/// Compares `mine` with every rank's (one gather); an `Err` on every rank
/// when any item differs, naming the item, the ranks that differ from rank
/// 0 and what to do. Every rank must pass the same items in the same order.
pub fn check_same(ranks: &mut dyn Collective, mine: &Fingerprint) -> Result<()> {
    let k = mine.items.len();
    let size = ranks.size();
    // The item count first, so that ranks that pass different lists fail
    // here rather than in a gather of another length.
    let mut counts = vec![0u64; size];
    ranks.gather_u64(&[k as u64], &mut counts);
    if counts.iter().any(|&c| c != counts[0]) {
        return Err(Error::Ranks(format!(
            "the ranks compare different numbers of items ({counts:?}): they run different programs"
        )));
    }
    let values: Vec<u64> = mine.items.iter().map(|i| i.1).collect();
    let mut all = vec![0u64; size * k];
    ranks.gather_u64(&values, &mut all);
    let mut problems = Vec::new();
    for (i, (name, _, help)) in mine.items.iter().enumerate() {
        let differ: Vec<usize> = (1..size).filter(|&r| all[r * k + i] != all[i]).collect();
        if !differ.is_empty() {
            let who = differ
                .iter()
                .map(|r| r.to_string())
                .collect::<Vec<_>>()
                .join(", ");
            let (s, verb) = match differ.len() {
                1 => ("", "differs"),
                _ => ("s", "differ"),
            };
            problems.push(format!("{name}: rank{s} {who} {verb} from rank 0; {help}"));
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(Error::Ranks(problems.join("\n  ")))
    }
}

/// Every rank's outcome of something each did alone (loading its data,
/// opening a file): `Ok` on every rank if it was `Ok` on every rank, else
/// the same `Err` on every rank, naming the first rank that failed and
/// its error. Call it before the next collective, so that a rank that
/// failed does not leave the others waiting there.
pub fn agree<T>(ranks: &mut dyn Collective, outcome: Result<T>) -> Result<T> {
    let size = ranks.size();
    let mut failed = vec![0u64; size];
    ranks.gather_u64(&[u64::from(outcome.is_err())], &mut failed);
    let Some(first) = failed.iter().position(|&f| f != 0) else {
        return outcome;
    };
    let mut message = match &outcome {
        Err(e) if ranks.rank() == first => e.to_string().into_bytes(),
        _ => Vec::new(),
    };
    ranks.broadcast_bytes(first, &mut message);
    let others = failed.iter().filter(|&&f| f != 0).count() - 1;
    let more = match others {
        0 => String::new(),
        n => format!(" (and {n} other rank(s))"),
    };
    Err(Error::Ranks(format!(
        "rank {first} failed{more}: {}",
        String::from_utf8_lossy(&message)
    )))
}
