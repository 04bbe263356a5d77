//! Typed identifiers. Each is parsed once at the edge; inside the core a `KeyId` is never a
//! plain string.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::KmsError;

/// Defines a UUID-backed identifier type.
macro_rules! uuid_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(value_type = String))]
        pub struct $name(Uuid);

        impl $name {
            /// A new, time-ordered identifier (UUIDv7), so that ids sort by creation.
            pub fn generate() -> Self {
                Self(Uuid::now_v7())
            }
            /// The 16 raw bytes, as embedded in ciphertext headers.
            pub fn as_bytes(&self) -> &[u8; 16] {
                self.0.as_bytes()
            }
            /// Rebuilds an id from its 16 raw bytes.
            pub fn from_bytes(bytes: [u8; 16]) -> Self {
                Self(Uuid::from_bytes(bytes))
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.hyphenated().fmt(f)
            }
        }

        impl FromStr for $name {
            type Err = KmsError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s)
                    .map(Self)
                    .map_err(|_| KmsError::invalid(concat!("not a valid ", stringify!($name))))
            }
        }
    };
}

uuid_id!(
    /// Identifies a key across the whole system (unique across tenants).
    KeyId
);
uuid_id!(
    /// Identifies an API token (not the secret: the id is safe to show and log).
    TokenId
);
uuid_id!(
    /// Identifies a grant of operations on a key to a principal.
    GrantId
);
uuid_id!(
    /// Identifies a trust anchor (a CA certificate trusted for client certificates).
    TrustAnchorId
);
uuid_id!(
    /// Identifies a request waiting for approvals (dual control).
    ApprovalId
);

/// Defines a validated name type: `[A-Za-z0-9._@/-]`, 1..=max characters, with an optional
/// required prefix.
macro_rules! name_type {
    ($(#[$doc:meta])* $name:ident, $what:literal, $max:expr, $prefix:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(value_type = String))]
        pub struct $name(String);

        impl $name {
            /// The name as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl TryFrom<String> for $name {
            type Error = KmsError;
            fn try_from(s: String) -> Result<Self, Self::Error> {
                let prefix: &str = $prefix;
                let valid_chars = s
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '@' | '/' | ':'));
                if s.is_empty() || s.len() > $max || !valid_chars {
                    return Err(KmsError::invalid(concat!(
                        "invalid ", $what,
                        ": use 1 to ", stringify!($max),
                        " characters from A-Z a-z 0-9 . _ - @ / :"
                    )));
                }
                if !s.starts_with(prefix) || s.len() == prefix.len() {
                    return Err(KmsError::invalid(concat!("invalid ", $what, ": must start with '", $prefix, "'")));
                }
                Ok(Self(s))
            }
        }

        impl FromStr for $name {
            type Err = KmsError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::try_from(s.to_owned())
            }
        }

        impl From<$name> for String {
            fn from(n: $name) -> String {
                n.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

name_type!(
    /// The name of a principal (a person or a service) inside its tenant.
    PrincipalName, "principal name", 128, ""
);
name_type!(
    /// A key's unique, human-chosen name inside its tenant.
    KeyName, "key name", 256, ""
);
name_type!(
    /// An alias such as `alias/billing`, pointing at one key.
    AliasName, "alias", 256, "alias/"
);

/// A tenant's identifier: 1 to 63 of `a-z 0-9 -`. Every object belongs to exactly one tenant.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(value_type = String))]
pub struct TenantId(String);

impl TenantId {
    /// The tenant every installation starts with; its administrators administer the
    /// installation (tenants, backups).
    pub fn default_tenant() -> Self {
        Self("default".to_owned())
    }

    /// Whether this is the default tenant.
    pub fn is_default(&self) -> bool {
        self.0 == "default"
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for TenantId {
    type Error = KmsError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        let valid = !s.is_empty()
            && s.len() <= 63
            && s.bytes()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-');
        if !valid {
            return Err(KmsError::invalid(
                "invalid tenant id: use 1 to 63 characters from a-z 0-9 -",
            ));
        }
        Ok(Self(s))
    }
}

impl FromStr for TenantId {
    type Err = KmsError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::try_from(s.to_owned())
    }
}

impl From<TenantId> for String {
    fn from(t: TenantId) -> String {
        t.0
    }
}

impl fmt::Display for TenantId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl PrincipalName {
    /// The principal that date-driven transitions and the sweeper act as.
    pub fn system() -> Self {
        Self("system".to_owned())
    }
    /// Stands for a caller that could not be authenticated, in audit events.
    pub fn anonymous() -> Self {
        Self("anonymous".to_owned())
    }
}

impl KeyName {
    /// Refuses a name a new or renamed key cannot take because a key reference would read it
    /// as something else: `alias/…` is an alias and a UUID is a key id, so a key named either
    /// way could never be found by its name.
    pub fn check_assignable(&self) -> Result<(), KmsError> {
        if self.0.starts_with("alias/") {
            return Err(KmsError::invalid(
                "invalid key name: names starting with 'alias/' are aliases",
            ));
        }
        if self.0.parse::<KeyId>().is_ok() {
            return Err(KmsError::invalid(
                "invalid key name: a UUID is read as a key id",
            ));
        }
        Ok(())
    }
}

/// A reference to a key as a client writes it: a key id, a key name, or `alias/...`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(value_type = String))]
pub struct KeyRef(pub String);

/// The parsed form of a [`KeyRef`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyLocator {
    /// By id.
    Id(KeyId),
    /// By unique name.
    Name(KeyName),
    /// Through an alias.
    Alias(AliasName),
}

impl KeyRef {
    /// Parses the reference: `alias/…` is an alias, a UUID is an id, anything else a name.
    pub fn locate(&self) -> Result<KeyLocator, KmsError> {
        let s = self.0.trim();
        if s.starts_with("alias/") {
            return Ok(KeyLocator::Alias(s.parse()?));
        }
        if let Ok(id) = s.parse::<KeyId>() {
            return Ok(KeyLocator::Id(id));
        }
        Ok(KeyLocator::Name(s.parse()?))
    }
}

impl fmt::Display for KeyRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<KeyId> for KeyRef {
    fn from(id: KeyId) -> Self {
        Self(id.to_string())
    }
}

/// Identifies one request end to end: in the response, the logs and the audit trail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct RequestId(pub String);

impl RequestId {
    /// A fresh random request id.
    pub fn generate() -> Self {
        // Encoded into a buffer rather than through `Display` (this runs for every request).
        let mut buf = [0u8; uuid::fmt::Simple::LENGTH];
        Self(Uuid::new_v4().simple().encode_lower(&mut buf).to_owned())
    }
}

impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_names_that_read_as_aliases_or_ids_are_not_assignable() {
        let name = |s: &str| s.parse::<KeyName>().unwrap();
        assert!(name("billing").check_assignable().is_ok());
        assert!(name("team/alias/x").check_assignable().is_ok());
        assert!(name("alias/x").check_assignable().is_err());
        let id = KeyId::generate().to_string();
        assert!(name(&id).check_assignable().is_err());
    }

    #[test]
    fn key_ref_locates_each_form() {
        let id = KeyId::generate();
        assert_eq!(KeyRef::from(id).locate().unwrap(), KeyLocator::Id(id));
        assert!(matches!(
            KeyRef("alias/billing".into()).locate().unwrap(),
            KeyLocator::Alias(_)
        ));
        assert!(matches!(
            KeyRef("billing-key".into()).locate().unwrap(),
            KeyLocator::Name(_)
        ));
        assert!(KeyRef("alias/".into()).locate().is_err());
        assert!(KeyRef("bad name".into()).locate().is_err());
    }

    #[test]
    fn tenant_ids_are_lowercase_digits_and_dashes() {
        for ok in ["default", "a", "acme-eu-1", &"x".repeat(63)] {
            assert!(ok.parse::<TenantId>().is_ok(), "{ok}");
        }
        for bad in ["", "Acme", "acme_eu", "a b", "a/b", "é", &"x".repeat(64)] {
            assert!(bad.parse::<TenantId>().is_err(), "{bad}");
        }
        assert!(serde_json::from_str::<TenantId>("\"UPPER\"").is_err());
    }

    #[test]
    fn key_id_round_trips_through_bytes() {
        let id = KeyId::generate();
        assert_eq!(KeyId::from_bytes(*id.as_bytes()), id);
    }
}
