//! Blocks and networks shared between `network!` calls.
//!
//! One macro call cannot see inside another, so every call also emits, for
//! each template and network it declares, a `macro_rules!` of the same name
//! (`pub(crate) use`d, so it travels with the struct by path or `use`) that
//! holds the call's own tokens. A `pub` block or network's macro is also
//! `#[macro_export]`ed (under a hidden name that carries a fingerprint of
//! the call) and `pub use`d, so that another crate uses it by path
//! (`layers: other::Trunk`, `cnn::models::ResNet { .. }`): the request
//! then calls the macro by that path. A call that uses a name it does not declare
//! expands to nothing but a call of that macro:
//!
//! ```text
//! MnistTrunk! { @cnn_splice <this call's tokens> }
//!   => ::cnn::network! { @cnn_import { <MnistTrunk's call> } <this call's tokens> }
//! ```
//!
//! so the second expansion sees the declarations it needs, and checks the
//! whole network, the lent layers included, with every compile-time rule.
//! A name used as a kind is asked for this way only when it is not a kind,
//! not one edit from one (a typo gets "did you mean"), and starts with a
//! capital; a name nobody declares then fails as rustc's "cannot find
//! macro `Name`" at the layer.

use proc_macro2::{Ident, Punct, Spacing, Span, TokenStream, TokenTree};
use quote::{format_ident, quote};

use crate::ast::{Entry, Program, Value};
use crate::lower::{Library, KINDS};
use crate::suggest::distance;

/// The call that fetches the first name the program uses but nobody in it
/// declares; `None` when every name is known.
pub fn request(program: &Program, input: &TokenStream) -> Option<TokenStream> {
    let lib = Library::new(program);
    let known = lib.names();
    let mut used: Vec<Used> = Vec::new();
    for t in &program.templates {
        kinds_in_list(&t.body, &mut used);
    }
    for net in &program.nets {
        kinds_in_entries(&net.fields, &mut used);
    }
    let (path, missing) = used.into_iter().find(|(path, kind)| {
        let name = kind.to_string();
        if path.is_some() {
            // `cnn::models::ResNet50` inside `struct ResNet50 { .. }`: the
            // struct being declared is not the template the path names.
            let declared_here = program.nets.iter().any(|n| n.header.ident == name);
            return lib.template(&name).is_none() && (declared_here || lib.net(&name).is_none());
        }
        !known.contains(&name)
            && (!KINDS.contains(&name.as_str())
                && name != "Stage"
                && name.starts_with(|c: char| c.is_ascii_uppercase())
                && !likely_typo(&name))
    })?;
    let bang = Punct::new('!', Spacing::Alone);
    let mut at = Punct::new('@', Spacing::Alone);
    at.set_span(missing.span());
    Some(quote!(#path #missing #bang { #at cnn_splice #input }))
}

/// A name one edit (or only case) away from a built-in kind is taken for a
/// misspelt kind, which lowering reports with "did you mean"; any other
/// unknown name is asked for from another call (`ConvBn`, `MnistTrunk`).
fn likely_typo(name: &str) -> bool {
    KINDS
        .iter()
        .any(|k| k.eq_ignore_ascii_case(name) || distance(k, name) <= 1)
}

/// A kind a layer uses, with the path written in front of it.
type Used = (Option<TokenStream>, Ident);

/// The kinds of every layer in a list, nested ones included.
fn kinds_in_list(items: &[Value], out: &mut Vec<Used>) {
    for item in items {
        kinds_in_value(item, out);
    }
}

fn kinds_in_entries(entries: &[Entry], out: &mut Vec<Used>) {
    for entry in entries {
        kinds_in_value(&entry.value, out);
    }
}

fn kinds_in_value(value: &Value, out: &mut Vec<Used>) {
    match value {
        Value::Layer(def) => {
            out.push((def.path.clone(), def.kind.clone()));
            if let Some(args) = &def.args {
                kinds_in_entries(&args.entries, out);
            }
        }
        Value::Word(word) => out.push((None, word.clone())),
        Value::List { items, .. } => kinds_in_list(items, out),
        Value::Map { entries, .. } => kinds_in_entries(entries, out),
        Value::Spread { value, .. } => kinds_in_value(value, out),
        Value::If {
            then, otherwise, ..
        } => {
            kinds_in_value(then, out);
            kinds_in_value(otherwise, out);
        }
        _ => {}
    }
}

/// For every template and network the call declares, the `macro_rules!`
/// that lends the call's tokens to other calls.
pub fn providers(program: &Program, input: &TokenStream) -> TokenStream {
    let names = program.templates.iter().map(|t| (&t.ident, &t.vis)).chain(
        program
            .nets
            .iter()
            .map(|n| (&n.header.ident, &n.header.vis)),
    );
    let call = fingerprint(input);
    let mut out = TokenStream::new();
    for (name, vis) in names {
        let public = matches!(vis, syn::Visibility::Public(_));
        // A `pub` block or network is lent to other crates too: its macro
        // is exported (at the crate's root, so its hidden name carries a
        // fingerprint of the call, unique in the crate) and re-exported
        // beside the struct under the struct's name.
        let hidden = if public {
            format_ident!("__cnn_lend_{}_{:016x}", name, call)
        } else {
            format_ident!("__cnn_lend_{}", name)
        };
        let dollar = || TokenTree::Punct(Punct::new('$', Spacing::Alone));
        let (d1, d2, d3, d4) = (dollar(), dollar(), dollar(), dollar());
        let rest = Ident::new("rest", Span::call_site());
        let message = format!(
            "`{name}` is declared with `network!`: use it as a layer of another network (`name: {name}`), \
             not as a macro"
        );
        let (export, reexport) = if public {
            (quote!(#[macro_export]), quote!(pub use #hidden as #name;))
        } else {
            (quote!(), quote!(pub(crate) use #hidden as #name;))
        };
        out.extend(quote! {
            #[doc(hidden)]
            #[allow(unused_macros)]
            #export
            macro_rules! #hidden {
                (@cnn_splice #d1 ( #d2 #rest:tt )*) => {
                    ::cnn::network! { @cnn_import { #input } #d3 ( #d4 #rest )* }
                };
                ($($t:tt)*) => { ::core::compile_error!(#message); };
            }
            #[doc(hidden)]
            #[allow(unused_imports)]
            #reexport
        });
    }
    out
}

/// FNV-1a of the call's tokens as text: the exported macros' names differ
/// between calls that declare the same name in different modules.
fn fingerprint(input: &TokenStream) -> u64 {
    input
        .to_string()
        .bytes()
        .fold(0xcbf2_9ce4_8422_2325, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        })
}
