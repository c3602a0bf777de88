use serde::{Deserialize, Serialize};
use std::fmt;

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema)]
        #[serde(transparent)]
        pub struct $name(i64);

        impl $name {
            /// Wraps a server-assigned id.
            pub fn new(raw: i64) -> Self {
                Self(raw)
            }

            /// The raw integer, for storage and URLs.
            pub fn get(self) -> i64 {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }
    };
}

id_type!(
    /// A student's server-assigned id.
    StudentId
);
id_type!(
    /// A department's server-assigned id.
    DepartmentId
);
id_type!(
    /// An account's server-assigned id.
    UserId
);
id_type!(
    /// An API token's server-assigned id.
    TokenId
);
