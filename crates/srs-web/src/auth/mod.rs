//! Who is asking: sessions for pages, bearer tokens for the API, roles for
//! both, and the login throttle.

pub mod clock;
pub mod extract;
pub mod middleware;
pub mod secrets;
pub mod service;
pub mod throttle;

pub use clock::{Clock, SystemClock};
pub use extract::{Admin, Authenticated, Registrar, Viewer};
