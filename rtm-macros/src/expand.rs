//! Code generation: the function as written, plus a hidden braced struct with the same name
//! (types and values live in different namespaces, as in Rocket) that implements
//! `rtm_core::AnnotatedHandler` by calling the public `RtmDispatcher::on` once per route.

use proc_macro2::TokenStream;
use quote::{ToTokens, quote, quote_spanned};
use syn::{Attribute, FnArg, Item, ItemFn, ReturnType, Type, spanned::Spanned as _};

use crate::{
    args::{self, RouteArgs, Source},
    validate::{self, ANY, Errors},
};

/// `#[rtm_event]`.
pub(crate) fn rtm_event(args: TokenStream, item: TokenStream) -> TokenStream {
    expand(Source::Event, args, item)
}

/// `#[slash_command]`.
pub(crate) fn slash_command(args: TokenStream, item: TokenStream) -> TokenStream {
    expand(Source::SlashCommand, args, item)
}

/// `#[interaction]`.
pub(crate) fn interaction(args: TokenStream, item: TokenStream) -> TokenStream {
    expand(Source::Interaction, args, item)
}

/// The whole attribute: parse, validate, then emit the handler, or the errors next to the
/// user's function (so the only errors shown are the real ones).
fn expand(source: Source, args: TokenStream, item: TokenStream) -> TokenStream {
    let mut function = match syn::parse2::<Item>(item.clone()) {
        Ok(Item::Fn(function)) => function,
        Ok(other) => return with_item(not_a_function(source, &other), item),
        Err(error) => return with_item(error, item),
    };
    let mut errors = Errors::default();
    let mut routes: Vec<RouteArgs> = args::parse_outer(source, args, &mut errors).into_iter().collect();
    // Stacked attributes of ours below this one (of any of the three kinds): take them over,
    // so they do not expand again.
    let (stacked, kept): (Vec<Attribute>, Vec<Attribute>) = function
        .attrs
        .drain(..)
        .partition(|attr| Source::of(attr).is_some());
    function.attrs = kept;
    routes.extend(stacked.iter().filter_map(|attr| {
        let source = Source::of(attr)?;
        args::parse_stacked(source, attr, &mut errors)
    }));
    validate::routes(&routes, &mut errors);
    validate::signature(&function.sig, &mut errors);
    match errors.finish() {
        Ok(()) => handler(&function, &routes, &stacked),
        Err(error) => fallback(error, &function),
    }
}

fn not_a_function(source: Source, item: &Item) -> syn::Error {
    let message = match source {
        Source::Event => {
            "#[rtm_event] can only be applied to functions: `async fn greet(join: TeamJoin) { ... }`"
        }
        Source::SlashCommand => {
            "#[slash_command] can only be applied to functions: `async fn deploy(ctx: Context, command: SlashCommand) { ... }`"
        }
        Source::Interaction => {
            "#[interaction] can only be applied to functions: `async fn approve(ctx: Context, actions: BlockActions) { ... }`"
        }
    };
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
        Some(keyword) => syn::Error::new_spanned(keyword, message),
        None => syn::Error::new_spanned(item, message),
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

/// The success path: the function, its proxy, and an `AnnotatedHandler<S>` impl for every
/// state `S` its `Context`/`State` arguments can be taken from.
///
/// `register` does not go through `RtmDispatcher::on` and its `Handler` bound: it builds the
/// call itself from the argument types it can see, each step spanned at the part of the
/// signature it needs (the event type, the return type, the function's name for `Send`). A
/// mistake is then reported once, there, instead of a second time as "not a handler" at a
/// method the user never called.
fn handler(function: &ItemFn, routes: &[RouteArgs], stacked: &[Attribute]) -> TokenStream {
    let name = &function.sig.ident;
    // A stacked attribute is taken over here and never expands, so the import its name came
    // through would look unused to the compiler: name it once more.
    let stacked = stacked.iter().map(Attribute::path);
    let cfgs = cfgs(function);
    let proxy = proxy(function);
    let types: Vec<&Type> = function
        .sig
        .inputs
        .iter()
        .filter_map(|input| match input {
            FnArg::Typed(argument) => Some(&*argument.ty),
            FnArg::Receiver(_) => None,
        })
        .collect();
    // `validate` guarantees at least one argument.
    let Some((event, before)) = types.split_last() else {
        return function.to_token_stream();
    };
    let checks = checks(before, event, routes);
    let call = call(function, before, event);
    let registrations = routes.iter().map(|route| {
        let route = route_expr(route);
        quote!(dispatcher = ::rtm_core::__private::register(dispatcher, #route, name, call.clone());)
    });
    quote! {
        #function
        #proxy
        #(#cfgs)*
        const _: () = {
            #(#[allow(unused_imports)] use #stacked as _;)*
            impl<__S> ::rtm_core::AnnotatedHandler<__S> for #name
            where
                __S: ::core::marker::Send + ::core::marker::Sync + 'static,
                #(#before: ::rtm_core::FromContext<__S>,)*
            {
                fn register(mut dispatcher: ::rtm_core::RtmDispatcher<__S>) -> ::rtm_core::RtmDispatcher<__S> {
                    #checks
                    let name: &'static str = ::core::any::type_name_of_val(&#name);
                    let call = ::std::sync::Arc::new(#call);
                    let call = move |ctx: ::rtm_core::Context, event: ::rtm_core::Event, state: &__S| call(ctx, event, state);
                    #(#registrations)*
                    dispatcher
                }
            }
        };
    }
}

/// The adapter: extracts the event (spanned at its type), then the other arguments, and
/// boxes the function's future (spanned at its name: it must be `Send`), converting what it
/// returns (spanned at the return type).
fn call(function: &ItemFn, before: &[&Type], event: &Type) -> TokenStream {
    let name = &function.sig.ident;
    let output = match &function.sig.output {
        ReturnType::Default => quote!(()),
        ReturnType::Type(_, ty) => ty.to_token_stream(),
    };
    let extract = quote_spanned!(event.span()=> <#event as ::rtm_core::FromEvent>::from_event(&event));
    let arguments: Vec<proc_macro2::Ident> = (0..before.len())
        .map(|index| quote::format_ident!("__arg{}", index))
        .collect();
    let context = before.iter().zip(&arguments).map(|(ty, argument)| {
        quote!(let #argument = <#ty as ::rtm_core::FromContext<__S>>::from_context(&ctx, state);)
    });
    let convert = quote_spanned!(output.span()=> ::rtm_core::__private::into_result::<#output>(output));
    let boxed = quote_spanned!(name.span()=> ::rtm_core::__private::call);
    let invoke = quote_spanned!(name.span()=> #name(#(#arguments,)* arg));
    quote! {
        move |ctx: ::rtm_core::Context, event: ::rtm_core::Event, state: &__S| {
            let name: &'static str = ::core::any::type_name_of_val(&#name);
            let arg = match #extract {
                ::core::result::Result::Ok(arg) => arg,
                ::core::result::Result::Err(source) => {
                    return ::rtm_core::__private::extract_failed(name, &event, source);
                }
            };
            #(#context)*
            // A closure, not the function's path: a wrong return type is then reported once,
            // at the return type.
            #[allow(clippy::redundant_closure)]
            let convert = |output: #output| #convert;
            #boxed(name, event, #invoke, convert)
        }
    }
}

/// Compile-time assertions (axum's `check_*` items) in a closure that is never called: each
/// is spanned at the part of the attribute or signature it checks. They cost nothing at run
/// time.
///
/// - each argument before the event is `Context` or `State<_>`;
/// - each route's `type` is in the event catalog (unless `unchecked` or `"*"`): the macro
///   names the catalog's item for it, so a misspelt type does not resolve and rustc suggests
///   the similar name;
/// - a catalog struct as the event argument is the struct of the route's type.
fn checks(before: &[&Type], event: &Type, routes: &[RouteArgs]) -> TokenStream {
    let context = before
        .iter()
        .map(|ty| quote_spanned!(ty.span()=> ::rtm_core::__private::context_argument::<#ty>();));
    let names = routes
        .iter()
        .filter_map(|route| {
            let kind = route.kind.value();
            match route.source {
                Source::Event if crate::catalog::is_known(&kind) => {
                    let ident = catalog_ident(&route.kind)?;
                    Some(quote!(::rtm_core::__private::event_catalog::#ident))
                }
                Source::SlashCommand => {
                    let ident = proc_macro2::Ident::new("slash_commands", route.kind.span());
                    Some(quote!(::rtm_core::__private::interaction_catalog::#ident))
                }
                Source::Interaction if crate::catalog::INTERACTION_TYPES.contains(&kind.as_str()) => {
                    let ident = catalog_ident(&route.kind)?;
                    Some(quote!(::rtm_core::__private::interaction_catalog::#ident))
                }
                Source::Event | Source::Interaction => None,
            }
        })
        .enumerate()
        .map(|(index, item)| {
            let alias = quote::format_ident!("__Route{}", index);
            quote! {
                #[allow(non_camel_case_types, dead_code)]
                type #alias = #item;
                (&::rtm_core::__private::RouteProbe::<#event, #alias>::new())
                    .kind()
                    .check::<#event, #alias>();
            }
        });
    quote! {
        // The probe's `&` is what selects the check (autoref), not a needless borrow.
        #[allow(clippy::needless_borrow)]
        let _checks = || {
            #[allow(unused_imports)]
            use ::rtm_core::__private::{ViaCatalog as _, ViaOther as _};
            #(#context)*
            #(#names)*
        };
    }
}

/// The identifier of a catalog item for `kind`, spanned at the literal; `None` for a name
/// that cannot be an identifier (its spelling cannot be checked this way).
fn catalog_ident(kind: &syn::LitStr) -> Option<proc_macro2::Ident> {
    let value = kind.value();
    if let Ok(mut ident) = syn::parse_str::<proc_macro2::Ident>(&value) {
        ident.set_span(kind.span());
        return Some(ident);
    }
    match value.as_str() {
        "self" | "super" | "crate" | "Self" | "_" => None,
        _ => Some(proc_macro2::Ident::new_raw(&value, kind.span())),
    }
}

fn route_expr(route: &RouteArgs) -> TokenStream {
    let kind = &route.kind;
    match route.source {
        Source::Event => {}
        Source::SlashCommand => return quote!(::rtm_core::Route::slash_command(#kind)),
        Source::Interaction => {
            let mut route_tokens = quote!(::rtm_core::Route::interaction(#kind));
            if let Some((_, action_id)) = &route.action_id {
                route_tokens = quote!(#route_tokens.with_action_id(#action_id));
            }
            if let Some((_, callback_id)) = &route.callback_id {
                route_tokens = quote!(#route_tokens.with_callback_id(#callback_id));
            }
            return route_tokens;
        }
    }
    let base = if kind.value() == ANY {
        quote!(::rtm_core::Route::any())
    } else {
        quote!(::rtm_core::Route::new(#kind))
    };
    let base = match &route.subtype {
        Some((_, subtype)) => quote!(#base.with_subtype(#subtype)),
        None => base,
    };
    match &route.own_messages {
        Some(_) => quote!(#base.with_own_messages()),
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
                impl<__S> ::rtm_core::AnnotatedHandler<__S> for #name {
                    fn register(dispatcher: ::rtm_core::RtmDispatcher<__S>) -> ::rtm_core::RtmDispatcher<__S> {
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

    use super::{interaction, rtm_event, slash_command};

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
        assert!(expanded.contains(
            "impl < __S > :: rtm_core :: AnnotatedHandler < __S > for greet where __S : :: core :: marker :: Send + :: core :: marker :: Sync + 'static , Context : :: rtm_core :: FromContext < __S > ,"
        ), "{expanded}");
        assert!(expanded.contains(
            "dispatcher = :: rtm_core :: __private :: register (dispatcher , :: rtm_core :: Route :: new (\"message\") . with_subtype (\"bot_message\") , name , call . clone ()) ; dispatcher = :: rtm_core :: __private :: register (dispatcher , :: rtm_core :: Route :: new (\"reaction_added\") , name , call . clone ()) ;"
        ), "{expanded}");
        assert!(
            expanded.contains("< TeamJoin as :: rtm_core :: FromEvent > :: from_event (& event)"),
            "{expanded}"
        );
        assert!(
            expanded.contains("type __Route0 = :: rtm_core :: __private :: event_catalog :: message ;"),
            "{expanded}"
        );
        assert!(
            !expanded.contains("# [rtm_event"),
            "stacked attributes are consumed: {expanded}"
        );
        assert!(
            expanded.contains("# [allow (unused_imports)] use rtm_event as _ ;"),
            "the stacked attribute's name is still used: {expanded}"
        );
    }

    #[test]
    fn slash_commands_and_interactions_register_their_routes_and_stack() {
        let expanded = slash_command(
            quote!("/deploy"),
            quote! {
                #[interaction(type = "block_actions", action_id = "approve")]
                #[rtm_core::slash_command("/ship")]
                async fn deploy(ctx: Context, event: Event) {}
            },
        )
        .to_string();
        syn::parse2::<syn::File>(expanded.parse().unwrap()).expect("valid items");
        assert!(expanded.contains("register (dispatcher , :: rtm_core :: Route :: slash_command (\"/deploy\") , name , call . clone ())"), "{expanded}");
        assert!(
            expanded.contains(
                ":: rtm_core :: Route :: interaction (\"block_actions\") . with_action_id (\"approve\")"
            ),
            "{expanded}"
        );
        assert!(
            expanded.contains(":: rtm_core :: Route :: slash_command (\"/ship\")"),
            "{expanded}"
        );
        assert!(
            expanded.contains("interaction_catalog :: slash_commands"),
            "{expanded}"
        );
        assert!(
            expanded.contains("interaction_catalog :: block_actions"),
            "{expanded}"
        );
        assert!(!expanded.contains("# [interaction") && !expanded.contains("slash_command (\"/ship\")]"));
        let expanded = interaction(
            quote!(type = "view_submission", callback_id = "survey"),
            quote!(
                async fn submit(view: ViewSubmission) {}
            ),
        )
        .to_string();
        assert!(
            expanded.contains(
                ":: rtm_core :: Route :: interaction (\"view_submission\") . with_callback_id (\"survey\")"
            ),
            "{expanded}"
        );
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
            expanded
                .contains("register (dispatcher , :: rtm_core :: Route :: any () , name , call . clone ())")
                && !expanded.contains("event_catalog"),
            "{expanded}"
        );
    }

    #[test]
    fn on_error_emits_the_errors_the_function_and_an_empty_registration() {
        let expanded = rtm_event(
            quote!(),
            quote!(
                fn greet(a: A, b: B, c: C, d: D, e: E, f: F, g: G) {}
            ),
        )
        .to_string();
        assert!(expanded.contains("missing event type"), "{expanded}");
        assert!(expanded.contains("handlers must be `async fn`s"), "{expanded}");
        assert!(expanded.contains("too many arguments"), "{expanded}");
        assert!(
            expanded.contains("fn greet (a : A , b : B , c : C , d : D , e : E , f : F , g : G) { }"),
            "{expanded}"
        );
        assert!(expanded.contains("fn register (dispatcher : :: rtm_core :: RtmDispatcher < __S >) -> :: rtm_core :: RtmDispatcher < __S > { dispatcher }"), "{expanded}");
    }
}
