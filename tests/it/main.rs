//! Sesame's integration tests: one binary, every test on its own fresh table on the local AWS
//! endpoint (see `support`). Run with `make test`, which starts LocalStack first.

mod accounts;
mod api;
mod cleanup;
mod cloudfront;
mod downloads;
mod faults;
mod headers;
mod qr;
mod quota;
mod rbac;
mod refresh;
mod secrets;
mod sessions;
mod support;
mod tickets;
mod tokens;
mod users;
mod validation;
