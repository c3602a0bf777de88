//! Routes, one module a resource; each exposes `router()`.

pub mod api;
pub mod assets;
pub mod health;
pub mod pages;
