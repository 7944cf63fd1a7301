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
mod field;
mod ir;
mod lower;
mod parse;
mod shape;
mod splice;
mod suggest;

#[cfg(test)]
mod tests;

use proc_macro2::TokenStream;
use quote::quote;

use crate::ast::{Header, NetworkDef};
use crate::diag::{Diag, Diags, Sites};
use crate::ir::Net;
use crate::lower::Library;

/// Declares convolutional networks (and block templates): each `struct`
/// becomes a type with its shapes and counts as constants, checked at
/// compile time, and fused `predict` and `train_step` methods.
///
/// The reference (every layer kind and key with its default, names,
/// templates, stages, networks used as layers, the rules checked at
/// compile time and every generated item) is the `cnn::dsl` module of the
/// `cnn` crate, which re-exports this macro.
#[proc_macro]
pub fn network(input: proc_macro::TokenStream) -> proc_macro::TokenStream {
    network2(input.into()).into()
}

/// The macro on `proc_macro2` tokens.
fn network2(input: TokenStream) -> TokenStream {
    let program = match parse::parse_program(input.clone()) {
        Ok(program) => program,
        Err(syntax) => {
            let errors = syntax.to_compile_error();
            // Still declare the structs, so the user sees the syntax error
            // rather than "cannot find type" wherever they are used.
            let stubs = parse::parse_headers_only(input).into_iter().map(|header| {
                let net = empty_net(&header);
                expand::expand_with_errors(&header, &net)
            });
            return quote!(#errors #(#stubs)*);
        }
    };
    // A block or network this call uses but does not declare: the macro of
    // that name (made by the call that declares it) hands its declarations
    // over and calls `network!` again.
    if let Some(request) = splice::request(&program, &input) {
        return request;
    }
    let lib = Library::new(&program);
    let mut out = TokenStream::new();
    for def in &program.nets {
        out.extend(expand_one(def, &lib));
    }
    out.extend(splice::providers(&program, &input));
    out
}

/// The code for one network of the call: its API, or its errors and a stub.
fn expand_one(def: &NetworkDef, lib: &Library<'_>) -> TokenStream {
    let front = front_net(def, lib);
    if front.diags.is_empty() {
        return expand::expand(&front.header, &front.net);
    }
    let errors = diag::combine(&front.diags, &front.sites).map(|e| e.to_compile_error());
    let stub = expand::expand_with_errors(&front.header, &front.net);
    quote!(#errors #stub)
}

/// What the front end makes of a network that parses.
pub(crate) struct Front {
    pub header: Header,
    /// Checked and counted; shapes after a mistake are `None`.
    pub net: Net,
    /// Every mistake, in source order; empty when the net is good.
    pub diags: Vec<Diag>,
    /// The spans behind the diagnostics' sites.
    pub sites: Sites,
}

/// Parse, lower, check and count the first network of a call: the whole
/// front end, on plain tokens, so it is tested without a compiler. `Err`
/// is a syntax error.
#[cfg(test)]
pub(crate) fn front(tokens: TokenStream) -> syn::Result<Front> {
    let program = parse::parse_program(tokens)?;
    let lib = Library::new(&program);
    let def = program
        .nets
        .first()
        .ok_or_else(|| syn::Error::new(proc_macro2::Span::call_site(), "no network"))?;
    Ok(front_net(def, &lib))
}

/// Lower, check and count one network.
fn front_net(def: &NetworkDef, lib: &Library<'_>) -> Front {
    let mut sites = Sites::default();
    let mut diags = Diags::default();
    let lowered = lower::lower(def, lib, &mut sites, &mut diags);
    let mut net = lowered.net;
    check::check(&mut net, lowered.known, &mut diags);
    count::count(&mut net, &mut diags);
    Front {
        header: def.header.clone(),
        net,
        diags: diags.into_sorted(),
        sites,
    }
}

/// A net with no layers, for the stub emitted beside a syntax error.
fn empty_net(header: &Header) -> Net {
    Net {
        taps: Vec::new(),
        name: header.ident.to_string(),
        input: ir::Shape::Flat { n: 0 },
        site_input: ir::Site::CALL,
        layers: Vec::new(),
        params: 0,
        trainable: 0,
        macs: 0,
    }
}
