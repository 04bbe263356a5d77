//! Keys shared by the unit tests, generated once per test binary (RSA-4096
//! generation is slow).

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

use crate::{Algorithm, KeyMaterial, Provider};

/// A key of `alg`, the same one for every test in this process.
pub(crate) fn key(alg: Algorithm) -> KeyMaterial {
    static KEYS: OnceLock<Mutex<HashMap<Algorithm, KeyMaterial>>> = OnceLock::new();
    let mut keys = KEYS
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    keys.entry(alg)
        .or_insert_with(|| Provider::aws_lc().generate(alg).unwrap())
        .clone()
}
