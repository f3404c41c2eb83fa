//! Casework's end-to-end tests: one test binary, one module per area.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test

mod browser;
mod cli;
mod durability;
mod email;
mod exchange;
mod imap;
mod inbound;
mod notifications;
mod openapi;
mod postgres;
mod remote;
mod serve;
mod terminal;
mod tokens;
mod walkthrough;
mod webhooks;
