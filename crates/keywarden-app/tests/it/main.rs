//! Integration tests of the desktop command layer (one binary for the crate).

mod bindings;
mod commands;
mod requests;
