//! Black-box API and page tests against a real server on a free port,
//! run once on SQLite and once on MariaDB.

mod helpers;

mod admission;
mod auth;
mod browser;
mod bulk;
mod contacts;
mod credentials;
mod departments;
mod errors;
mod expiry;
mod health;
mod notes;
mod overview;
mod pages;
mod security;
mod students;
mod transfer;
