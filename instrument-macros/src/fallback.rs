//! The error path: the errors, followed by the user's item unchanged, so
//! that a mistake in the attribute does not also break every caller.

use proc_macro2::TokenStream;
use quote::quote;

pub(crate) fn emit(error: syn::Error, item: TokenStream) -> TokenStream {
    let error = error.into_compile_error();
    // An attribute on a closure stands in an expression: the error and the
    // closure go in a block, which is one, so that nothing else fails to
    // parse after the error.
    if syn::parse2::<syn::ExprClosure>(item.clone()).is_ok() {
        return quote!({ #error #item });
    }
    quote!(#error #item)
}
