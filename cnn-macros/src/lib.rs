//! The `network!` macro: parse -> lower -> check -> count -> expand.
//!
//! `parse.rs` reads the tokens into `ast` (syntax errors only); `lower.rs`
//! turns the ast into the pure `ir::Net` (defaults, names, unknown kinds
//! and keys); `check.rs` infers shapes and applies the rules; `count.rs`
//! counts parameters and multiply-adds; `expand/` generates the code. The
//! front end collects every mistake in one list, so one build shows them
//! all; with mistakes, the struct and its constants are still emitted.

mod ast;
mod check;
mod count;
mod diag;
mod expand;
mod ir;
mod lower;
mod parse;
mod shape;
mod suggest;

#[cfg(test)]
mod tests;

use proc_macro2::TokenStream;
use quote::quote;

use crate::ast::Header;
use crate::diag::{Diag, Diags, Sites};
use crate::ir::Net;

/// Declares a convolutional network; see the `cnn` crate's documentation.
#[proc_macro]
pub fn network(input: proc_macro::TokenStream) -> proc_macro::TokenStream {
    network2(input.into()).into()
}

/// The macro on `proc_macro2` tokens.
fn network2(input: TokenStream) -> TokenStream {
    match front(input.clone()) {
        Ok(front) if front.diags.is_empty() => expand::expand(&front.header, &front.net),
        Ok(front) => {
            let errors = diag::combine(&front.diags, &front.sites).map(|e| e.to_compile_error());
            let stub = expand::expand_with_errors(&front.header, &front.net);
            quote!(#errors #stub)
        }
        Err(syntax) => {
            let errors = syntax.to_compile_error();
            // Still declare the struct, so the user sees the syntax error
            // rather than "cannot find type" wherever it is used.
            let stub = parse::parse_header_only(input).map(|header| {
                let net = empty_net(&header);
                expand::expand_with_errors(&header, &net)
            });
            quote!(#errors #stub)
        }
    }
}

/// What the front end makes of a macro call that parses.
pub(crate) struct Front {
    pub header: Header,
    /// Checked and counted; shapes after a mistake are `None`.
    pub net: Net,
    /// Every mistake, in source order; empty when the net is good.
    pub diags: Vec<Diag>,
    /// The spans behind the diagnostics' sites.
    pub sites: Sites,
}

/// Parse, lower, check and count: the whole front end, on plain tokens,
/// so it is tested without a compiler. `Err` is a syntax error.
pub(crate) fn front(tokens: TokenStream) -> syn::Result<Front> {
    let def = parse::parse(tokens)?;
    let mut sites = Sites::default();
    let mut diags = Diags::default();
    let lowered = lower::lower(&def, &mut sites, &mut diags);
    let mut net = lowered.net;
    check::check(&mut net, lowered.known, &mut diags);
    count::count(&mut net, &mut diags);
    Ok(Front {
        header: def.header,
        net,
        diags: diags.into_sorted(),
        sites,
    })
}

/// A net with no layers, for the stub emitted beside a syntax error.
fn empty_net(header: &Header) -> Net {
    Net {
        name: header.ident.to_string(),
        input: ir::Shape::Flat { n: 0 },
        site_input: ir::Site::CALL,
        layers: Vec::new(),
        params: 0,
        trainable: 0,
        macs: 0,
    }
}
