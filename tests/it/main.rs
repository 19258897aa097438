//! Sesame's integration tests: one binary, every test on its own fresh table on the local AWS
//! endpoint (see `support`). Run with `make test`, which starts LocalStack first.

mod accounts;
mod admin_rights;
mod api;
mod audit;
mod browser;
mod brute_force;
mod cleanup;
mod cloudfront;
mod conditional;
mod cookies;
mod documented_refusals;
mod downloads;
mod faults;
mod headers;
mod lambda;
mod lists;
mod mfa;
mod password_races;
mod qr;
mod quota;
mod rbac;
mod refresh;
mod role_deletion;
mod round_trips;
mod secrets;
mod sessions;
mod support;
mod tickets;
mod timestamps;
mod tokens;
mod users;
mod validation;
mod web_admin;
mod web_docs;
mod web_tickets;
