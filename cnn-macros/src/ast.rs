//! The surface syntax as written, every node with its span. (The front end
//! fills this file out; `Header` is what the back end needs from it.)

/// What passes through to the generated struct untouched.
pub struct Header {
    /// Doc comments and attributes, in order.
    pub attrs: Vec<syn::Attribute>,
    pub vis: syn::Visibility,
    pub ident: syn::Ident,
}
