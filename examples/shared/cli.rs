//! What the examples' command lines share. Each example declares its
//! options as a struct with clap's derive (`--help` lists them with their
//! defaults); these are the value parsers whose messages clap has no words
//! for, and the entry the tests call with a command line of their own.

use clap::Parser;

/// A whole number of at least 1 (`--epochs`, `--threads`, `--batch-size`).
pub fn positive(s: &str) -> Result<usize, String> {
    match s.parse::<usize>() {
        Ok(n) if n >= 1 => Ok(n),
        _ => Err(format!("`{s}` is not a whole number of at least 1")),
    }
}

/// Parses `args` (the options after the program's name) as `program`'s
/// command line; `Err` is clap's message, or its help for `--help`.
#[allow(dead_code)] // the tests' entry; the examples call `T::parse()`
pub fn parse_from<T: Parser>(
    program: &str,
    args: impl Iterator<Item = String>,
) -> Result<T, String> {
    T::try_parse_from(std::iter::once(program.to_string()).chain(args)).map_err(|e| e.to_string())
}
