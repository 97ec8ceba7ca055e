//! The adversarial suite: each module attacks one rule of `docs/security.md` over HTTP,
//! the way someone trying to get in would, against both backends where storage matters.

mod at_rest;
mod bounded;
mod credentials;
mod escalation;
mod gateway;
mod jwt;
mod paths;
