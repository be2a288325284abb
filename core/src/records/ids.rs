//! Identifiers that must not be mistaken for one another. A user's id and a client's id are
//! both strings on the wire and in storage (`serde(transparent)`: the stored form is
//! unchanged), but a function that takes a [`UserId`] cannot be handed a [`ClientId`].

use serde::{Deserialize, Serialize};
use std::fmt;

macro_rules! id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            pub fn new(id: impl Into<String>) -> Self {
                Self(id.into())
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }

            pub fn into_string(self) -> String {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.0 == other
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.0 == *other
            }
        }

        impl PartialEq<String> for $name {
            fn eq(&self, other: &String) -> bool {
                &self.0 == other
            }
        }
    };
}

id!(
    /// A person in the directory (`00u…`).
    UserId
);
id!(
    /// An OAuth client, i.e. an app's `client_id`.
    ClientId
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_stored_as_the_plain_strings_they_were() {
        let user = UserId::new("00u1");
        assert_eq!(serde_json::to_string(&user).unwrap(), "\"00u1\"");
        let back: ClientId = serde_json::from_str("\"0oa9\"").unwrap();
        assert_eq!(back, "0oa9");
        assert_eq!(back.to_string(), "0oa9");
    }
}
