//! The error path: the errors, followed by the user's item unchanged, so
//! that a mistake in the attribute does not also break every caller.

use proc_macro2::TokenStream;
use quote::quote;

pub(crate) fn emit(error: syn::Error, item: TokenStream) -> TokenStream {
    let error = error.into_compile_error();
    quote!(#error #item)
}
