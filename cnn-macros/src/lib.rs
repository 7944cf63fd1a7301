//! The `network!` macro: parse -> lower -> check -> expand.
//! (The front end is being written; see ARCHITECTURE.md.)

#[allow(dead_code)] // used once the front end lands
mod ast;
#[allow(dead_code)] // used once the front end lands
mod expand;
#[allow(dead_code)] // the front end and back end that use it land next
mod ir;

use proc_macro::TokenStream;

/// Declares a convolutional network; see the `cnn` crate's documentation.
#[proc_macro]
pub fn network(input: TokenStream) -> TokenStream {
    let _ = input;
    quote::quote!(compile_error!("network! is not implemented yet");).into()
}
