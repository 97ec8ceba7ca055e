//! Integration tests of the desktop command layer (one binary for the crate).

mod admin;
mod bindings;
mod commands;
mod requests;
