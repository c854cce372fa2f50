//! Code generation: the function as written, plus a hidden braced struct with the same name
//! (types and values live in different namespaces, as in Rocket) that implements
//! `rtm_core::AnnotatedHandler` by calling the public `RtmDispatcher::on` once per route.

use proc_macro2::TokenStream;
use quote::{ToTokens, quote, quote_spanned};
use syn::{Attribute, FnArg, Item, ItemFn, ReturnType, Type, spanned::Spanned as _};

use crate::{
    args::{self, RouteArgs},
    validate::{self, ANY, Errors},
};

/// The whole attribute: parse, validate, then emit the handler, or the errors next to the
/// user's function (so the only errors shown are the real ones).
pub(crate) fn rtm_event(args: TokenStream, item: TokenStream) -> TokenStream {
    let mut function = match syn::parse2::<Item>(item.clone()) {
        Ok(Item::Fn(function)) => function,
        Ok(other) => return with_item(not_a_function(&other), item),
        Err(error) => return with_item(error, item),
    };
    let mut errors = Errors::default();
    let mut routes: Vec<RouteArgs> = args::parse_outer(args, &mut errors).into_iter().collect();
    // Stacked attributes below this one: take them over, so they do not expand again.
    let (stacked, kept): (Vec<Attribute>, Vec<Attribute>) =
        function.attrs.drain(..).partition(args::is_rtm_event);
    function.attrs = kept;
    routes.extend(
        stacked
            .iter()
            .filter_map(|attr| args::parse_stacked(attr, &mut errors)),
    );
    validate::routes(&routes, &mut errors);
    validate::signature(&function.sig, &mut errors);
    match errors.finish() {
        Ok(()) => handler(&function, &routes),
        Err(error) => fallback(error, &function),
    }
}

fn not_a_function(item: &Item) -> syn::Error {
    const MESSAGE: &str =
        "#[rtm_event] can only be applied to functions: `async fn greet(join: TeamJoin) { ... }`";
    let keyword: Option<&dyn ToTokens> = match item {
        Item::Struct(item) => Some(&item.struct_token),
        Item::Enum(item) => Some(&item.enum_token),
        Item::Const(item) => Some(&item.const_token),
        Item::Static(item) => Some(&item.static_token),
        Item::Mod(item) => Some(&item.mod_token),
        Item::Impl(item) => Some(&item.impl_token),
        Item::Trait(item) => Some(&item.trait_token),
        Item::Type(item) => Some(&item.type_token),
        Item::Use(item) => Some(&item.use_token),
        _ => None,
    };
    match keyword {
        Some(keyword) => syn::Error::new_spanned(keyword, MESSAGE),
        None => syn::Error::new_spanned(item, MESSAGE),
    }
}

fn with_item(error: syn::Error, item: TokenStream) -> TokenStream {
    let mut tokens = error.into_compile_error();
    tokens.extend(item);
    tokens
}

/// The `cfg` attributes of the function, repeated on what we add next to it.
fn cfgs(function: &ItemFn) -> Vec<&Attribute> {
    function
        .attrs
        .iter()
        .filter(|attr| attr.path().is_ident("cfg"))
        .collect()
}

/// The hidden type that carries the function's name in the type namespace.
fn proxy(function: &ItemFn) -> TokenStream {
    let name = &function.sig.ident;
    let vis = &function.vis;
    let cfgs = cfgs(function);
    quote! {
        #(#cfgs)*
        #[doc(hidden)]
        #[allow(non_camel_case_types, dead_code)]
        #vis struct #name {}
    }
}

/// The success path.
fn handler(function: &ItemFn, routes: &[RouteArgs]) -> TokenStream {
    let name = &function.sig.ident;
    let cfgs = cfgs(function);
    let proxy = proxy(function);
    // Spanned at the function's name, so a type error (the event is not `FromEvent`, the
    // future is not `Send`, ...) points at the user's function.
    let calls = routes.iter().map(|route| {
        let route = route_expr(route);
        quote_spanned!(name.span()=> .on(#route, #name))
    });
    let checks = checks(function);
    quote! {
        #function
        #proxy
        #(#cfgs)*
        const _: () = {
            impl ::rtm_core::AnnotatedHandler for #name {
                fn register(dispatcher: ::rtm_core::RtmDispatcher) -> ::rtm_core::RtmDispatcher {
                    #checks
                    dispatcher #(#calls)*
                }
            }
        };
    }
}

/// Compile-time assertions (axum's `check_*` items) in a closure that is never called: each
/// is spanned at the part of the signature it checks, so a mistake is reported there with a
/// precise message, next to the general "cannot be used as an RTM handler". They cost nothing
/// at run time, and living inside `register` they do not count as a use of the function, so
/// a handler that is never registered still gets rustc's "function is never used" warning.
fn checks(function: &ItemFn) -> TokenStream {
    let name = &function.sig.ident;
    let types: Vec<&Type> = function
        .sig
        .inputs
        .iter()
        .filter_map(|input| match input {
            FnArg::Typed(argument) => Some(&*argument.ty),
            FnArg::Receiver(_) => None,
        })
        .collect();
    let context = match types.as_slice() {
        [context, _] => {
            Some(quote_spanned!(context.span()=> ::rtm_core::__private::context_argument::<#context>();))
        }
        _ => None,
    };
    let event = types
        .last()
        .map(|event| quote_spanned!(event.span()=> ::rtm_core::__private::event_argument::<#event>();));
    let output = match &function.sig.output {
        ReturnType::Default => quote!(()),
        ReturnType::Type(_, ty) => ty.to_token_stream(),
    };
    let output = quote_spanned!(output.span()=> ::rtm_core::__private::return_type::<#output>(););
    let arguments = types.iter().map(|_| quote!(::rtm_core::__private::never()));
    let send = quote_spanned!(name.span()=>
        ::rtm_core::__private::future_must_be_send(#name(#(#arguments),*));
    );
    quote! {
        let _checks = || {
            #context
            #event
            #output
            #send
        };
    }
}

fn route_expr(route: &RouteArgs) -> TokenStream {
    let kind = &route.kind;
    let base = if kind.value() == ANY {
        quote!(::rtm_core::Route::any())
    } else {
        quote!(::rtm_core::Route::new(#kind))
    };
    match &route.subtype {
        Some((_, subtype)) => quote!(#base.with_subtype(#subtype)),
        None => base,
    }
}

/// The error path: the errors, the function (minus our attributes), and — when it can live
/// next to a free function — a proxy that registers nothing, so `.handler::<name>()` at the
/// call site adds no second error.
fn fallback(error: syn::Error, function: &ItemFn) -> TokenStream {
    let mut tokens = error.into_compile_error();
    function.to_tokens(&mut tokens);
    let is_method = function.sig.receiver().is_some();
    if !is_method {
        let name = &function.sig.ident;
        let cfgs = cfgs(function);
        tokens.extend(proxy(function));
        tokens.extend(quote! {
            #(#cfgs)*
            const _: () = {
                impl ::rtm_core::AnnotatedHandler for #name {
                    fn register(dispatcher: ::rtm_core::RtmDispatcher) -> ::rtm_core::RtmDispatcher {
                        dispatcher
                    }
                }
            };
        });
    }
    tokens
}

#[cfg(test)]
mod tests {
    use quote::quote;

    use super::rtm_event;

    /// Expands the attribute with `args` over `item`, checking that the output parses.
    fn expand(args: proc_macro2::TokenStream, item: proc_macro2::TokenStream) -> String {
        let expanded = rtm_event(args, item);
        syn::parse2::<syn::File>(expanded.clone()).expect("the expansion is valid items");
        expanded.to_string()
    }

    #[test]
    fn emits_the_function_unchanged_a_proxy_and_one_on_per_route() {
        let expanded = expand(
            quote!(type = "message", subtype = "bot_message"),
            quote! {
                /// Docs stay.
                #[rtm_event(type = "reaction_added")]
                pub async fn greet(ctx: Context, join: TeamJoin) -> Result<(), BoxError> { Ok(()) }
            },
        );
        assert!(expanded.starts_with(
            "# [doc = r\" Docs stay.\"] pub async fn greet (ctx : Context , join : TeamJoin) -> Result < () , BoxError > { Ok (()) }"
        ));
        assert!(
            expanded.contains(
                "# [doc (hidden)] # [allow (non_camel_case_types , dead_code)] pub struct greet { }"
            )
        );
        assert!(expanded.contains("impl :: rtm_core :: AnnotatedHandler for greet"));
        assert!(expanded.contains(
            ". on (:: rtm_core :: Route :: new (\"message\") . with_subtype (\"bot_message\") , greet) . on (:: rtm_core :: Route :: new (\"reaction_added\") , greet)"
        ));
        assert!(!expanded.contains("rtm_event"), "stacked attributes are consumed");
    }

    #[test]
    fn catch_all_uses_route_any() {
        let expanded = expand(
            quote!(type = "*"),
            quote!(
                async fn log(event: Event) {}
            ),
        );
        assert!(
            expanded.contains(". on (:: rtm_core :: Route :: any () , log)"),
            "{expanded}"
        );
    }

    #[test]
    fn on_error_emits_the_errors_the_function_and_an_empty_registration() {
        let expanded = rtm_event(
            quote!(),
            quote!(
                fn greet(a: A, b: B, c: C) {}
            ),
        )
        .to_string();
        assert!(expanded.contains("missing event type"), "{expanded}");
        assert!(expanded.contains("handlers must be `async fn`s"), "{expanded}");
        assert!(expanded.contains("too many arguments"), "{expanded}");
        assert!(
            expanded.contains("fn greet (a : A , b : B , c : C) { }"),
            "{expanded}"
        );
        assert!(expanded.contains("fn register (dispatcher : :: rtm_core :: RtmDispatcher) -> :: rtm_core :: RtmDispatcher { dispatcher }"), "{expanded}");
    }
}
