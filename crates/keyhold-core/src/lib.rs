//! `keyhold-core`: the domain of the Keyhold key management system.
//!
//! Every business rule lives here once: which states allow which operation, version selection,
//! rotation, separation of duties. Protocol adapters decode a request into an [`Operation`],
//! call [`Kms::run`], and encode the [`Response`] or the [`KmsError`].
//!
//! ```text
//!  adapter ─► Kms::run(request, credential, operation)
//!               authenticate ─► authorize ─► life-cycle check ─► execute ─► audit (fail closed)
//!                    │              │                                │          │
//!                 KeyStore       grants                      CryptoProvider   KeyStore
//! ```

#![warn(missing_docs)]

pub mod archive;
pub mod audit;
pub mod b64;
pub mod backup;
mod cache;
pub mod checkpoint;
pub mod ciphertext;
pub mod clock;
pub mod error;
pub mod ids;
pub mod kms;
pub mod lifecycle;
pub mod model;
pub mod ops;
pub mod pki;
pub mod policy;
pub mod root;
pub mod store;

pub use cache::CacheSizes;
pub use error::{ErrorCode, KmsError};
pub use keyhold_crypto::{Algorithm, MessageType, SecretBytes, SigningAlgorithm};
pub use kms::{ClientChain, Credential, Kms, KmsConfig, RequestMeta, SealStatus};
pub use ops::{Operation, Response};
