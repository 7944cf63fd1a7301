//! The one error type of the library. Every rule checked at run time (a
//! wrong tensor shape, a corrupt data file, a checkpoint of another network,
//! a loss that is no longer finite) has a variant here and a test that
//! provokes it. Messages are lower case and say what was expected.

use std::path::PathBuf;

/// What can go wrong at run time.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A tensor or slice given to the library does not have the shape it must.
    #[error("{what}: expected {expected}, got {got}")]
    Shape {
        /// What was checked: `predict: x`.
        what: String,
        /// The shape it must have.
        expected: String,
        /// The shape it has.
        got: String,
    },
    /// A size, rate or other argument is outside what the operation accepts.
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// A class label is not below the number of classes.
    #[error("label {label} at position {index} is out of range: the network has {classes} classes (labels 0..{classes})")]
    LabelOutOfRange {
        /// The label's position in the batch.
        index: usize,
        /// The label.
        label: usize,
        /// The network's number of classes.
        classes: usize,
    },
    /// The loss became NaN or infinite.
    #[error(
        "the loss is not finite ({loss}) at {at}; lower the learning rate or check the input data"
    )]
    NonFiniteLoss {
        /// The loss.
        loss: f32,
        /// Where: `train_step`, or the epoch and batch in `fit`.
        at: String,
    },
    /// A file could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A file was read but its contents are not what they must be.
    #[error("{}: {message}", path.display())]
    Format {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        message: String,
    },
    /// A file is whole but was made for something else than the caller's:
    /// features of another trunk, a checkpoint of another network or of a
    /// run with other settings. The message names both sides.
    #[error("{}: {message}", path.display())]
    Mismatch {
        /// The file.
        path: PathBuf,
        /// What differs, with the file's value and the caller's.
        message: String,
    },
    /// A checkpoint does not hold the tensors this network expects.
    #[error("{}: tensor `{tensor}`: {message}", path.display())]
    Checkpoint {
        /// The file.
        path: PathBuf,
        /// The first tensor that is missing or does not fit.
        tensor: String,
        /// How it does not fit.
        message: String,
    },
}

/// `Result` with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// A shape mismatch; `what` names the argument.
    pub fn shape(what: impl Into<String>, expected: impl ToString, got: impl ToString) -> Self {
        Error::Shape {
            what: what.into(),
            expected: expected.to_string(),
            got: got.to_string(),
        }
    }

    /// An I/O error on `path`.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }

    /// A malformed file.
    pub fn format(path: impl Into<PathBuf>, message: impl Into<String>) -> Self {
        Error::Format {
            path: path.into(),
            message: message.into(),
        }
    }
}

/// Checks that a slice has the length its stated shape implies.
pub fn check_len(what: &str, len: usize, expected: usize) -> Result<()> {
    if len == expected {
        Ok(())
    } else {
        Err(Error::shape(
            what,
            format!("{expected} elements"),
            format!("{len}"),
        ))
    }
}
