//! [`routes!`](crate::routes): the one way a route group turns `#[utoipa::path]` handlers
//! into routes.

/// The routes of handlers annotated with `#[utoipa::path]`, for `OpenApiRouter::routes`.
///
/// In a crate built with its `openapi` feature (the local server and the tests, which build
/// the OpenAPI document) this is `utoipa_axum::routes!`, with each operation's description.
/// Without it (a Lambda binary, which serves the checked-in document) each handler contributes
/// only its path and methods, so none of the description code is linked into the binary.
#[macro_export]
macro_rules! routes {
    ($($handler:ident),+ $(,)?) => {{
        #[cfg(feature = "openapi")]
        let routes = ::utoipa_axum::routes!($($handler),+);
        #[cfg(not(feature = "openapi"))]
        let routes = {
            use ::utoipa::Path as _;
            use ::utoipa_axum::PathItemExt as _;
            let mut paths = ::utoipa::openapi::path::Paths::new();
            let mut router = ::axum::routing::MethodRouter::new();
            $(
                ::utoipa_axum::paste! {
                    let path = [<__path_ $handler>]::path();
                    for method in [<__path_ $handler>]::methods() {
                        router = router.on(method.to_method_filter(), $handler);
                        paths.add_path_operation(
                            &path,
                            vec![method],
                            ::utoipa::openapi::path::Operation::new(),
                        );
                    }
                }
            )+
            (::std::vec::Vec::new(), paths, router)
        };
        routes
    }};
}
