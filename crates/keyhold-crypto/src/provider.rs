//! The provider value, randomness, hashing, key derivation and PEM.

use aws_lc_rs::{digest, hmac, rand};
use base64::Engine as _;

use crate::{CryptoError, SecretBytes};

/// What the linked cryptographic module says about FIPS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FipsReport {
    /// Whether the module runs in FIPS mode (an AWS-LC FIPS build that passed
    /// its power-on self tests).
    pub fips_mode: bool,
    /// The module's name.
    pub module: &'static str,
}

/// The default cryptographic provider, backed by aws-lc-rs (AWS-LC).
///
/// The provider holds no state: it is cheap to clone, `Send` and `Sync`, and
/// every method parses its key material afresh. Key material is passed in as
/// DER or raw bytes and every secret it returns is a [`SecretBytes`].
#[derive(Clone, Debug, Default)]
pub struct Provider {
    _private: (),
}

impl Provider {
    /// The aws-lc-rs provider.
    pub fn aws_lc() -> Self {
        Self::default()
    }

    /// Reports whether AWS-LC runs in FIPS mode.
    pub fn fips(&self) -> FipsReport {
        let fips_mode = aws_lc_rs::try_fips_mode().is_ok();
        FipsReport {
            fips_mode,
            module: if fips_mode { "AWS-LC FIPS" } else { "AWS-LC" },
        }
    }

    /// `len` bytes from the operating system's CSPRNG (via AWS-LC).
    pub fn random(&self, len: usize) -> Result<SecretBytes, CryptoError> {
        let mut out = SecretBytes::zeroed(len);
        fill_random(out.as_mut_bytes())?;
        Ok(out)
    }

    /// `N` random bytes in an array. The caller owns wiping them if they are secret.
    pub fn random_array<const N: usize>(&self) -> Result<[u8; N], CryptoError> {
        let mut out = [0u8; N];
        fill_random(&mut out)?;
        Ok(out)
    }

    /// SHA-256 of `data`.
    pub fn sha256(&self, data: &[u8]) -> [u8; 32] {
        let d = digest::digest(&digest::SHA256, data);
        let mut out = [0u8; 32];
        out.copy_from_slice(d.as_ref());
        out
    }

    /// HMAC-SHA256 of `data` under `key` (any key length, as RFC 2104 allows).
    ///
    /// For keys stored in the KMS use [`Provider::mac`], which also checks the
    /// key length.
    pub fn hmac_sha256(&self, key: &[u8], data: &[u8]) -> [u8; 32] {
        let tag = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, key), data);
        let mut out = [0u8; 32];
        out.copy_from_slice(tag.as_ref());
        out
    }

    /// HKDF-SHA256 (RFC 5869): extract with `salt` (an empty salt means the
    /// all-zero salt of the RFC), expand with `info` to `out_len` bytes
    /// (1..=1024).
    pub fn hkdf_sha256(
        &self,
        ikm: &[u8],
        salt: &[u8],
        info: &[u8],
        out_len: usize,
    ) -> Result<SecretBytes, CryptoError> {
        self.hkdf(crate::KdfHash::Sha256, ikm, salt, info, out_len)
    }

    /// Encodes a SubjectPublicKeyInfo DER as a `PUBLIC KEY` PEM block with
    /// 64-column base64 lines and a trailing newline.
    pub fn public_key_pem(&self, spki_der: &[u8]) -> String {
        let b64 = base64::engine::general_purpose::STANDARD.encode(spki_der);
        let mut pem = String::with_capacity(b64.len() + b64.len() / 64 + 60);
        pem.push_str(PEM_BEGIN);
        pem.push('\n');
        // base64 output is ASCII, so byte chunks are valid UTF-8.
        for line in b64.as_bytes().chunks(64) {
            pem.push_str(core::str::from_utf8(line).unwrap_or_default());
            pem.push('\n');
        }
        pem.push_str(PEM_END);
        pem.push('\n');
        pem
    }

    /// Decodes the first `PUBLIC KEY` PEM block in `pem` into SPKI DER.
    ///
    /// Text before the BEGIN line and after the END line is ignored, as are
    /// whitespace and line breaks inside the block. The DER itself is not
    /// parsed here; it is checked when used.
    pub fn public_key_from_pem(&self, pem: &str) -> Result<Vec<u8>, CryptoError> {
        let start = pem
            .find(PEM_BEGIN)
            .ok_or(CryptoError::InvalidInput("no BEGIN PUBLIC KEY line"))?
            + PEM_BEGIN.len();
        let len = pem[start..]
            .find(PEM_END)
            .ok_or(CryptoError::InvalidInput("no END PUBLIC KEY line"))?;
        let body: String = pem[start..start + len]
            .chars()
            .filter(|c| !c.is_ascii_whitespace())
            .collect();
        let der = base64::engine::general_purpose::STANDARD
            .decode(body)
            .map_err(|_| CryptoError::InvalidInput("PEM body is not valid base64"))?;
        if der.is_empty() {
            return Err(CryptoError::InvalidInput("empty PEM block"));
        }
        Ok(der)
    }
}

const PEM_BEGIN: &str = "-----BEGIN PUBLIC KEY-----";
const PEM_END: &str = "-----END PUBLIC KEY-----";

/// Fills `out` from AWS-LC's system random generator.
pub(crate) fn fill_random(out: &mut [u8]) -> Result<(), CryptoError> {
    rand::fill(out).map_err(|_| CryptoError::Internal("random number generator failed"))
}

/// An HKDF output length for aws-lc-rs's `expand`.
#[cfg(test)]
mod tests {
    use super::*;

    fn p() -> Provider {
        Provider::aws_lc()
    }

    #[test]
    fn provider_is_send_sync_and_reports_its_module() {
        fn assert_send_sync<T: Send + Sync + Clone>() {}
        assert_send_sync::<Provider>();
        let report = p().fips();
        assert!(report.module.starts_with("AWS-LC"));
    }

    #[test]
    fn random_returns_requested_length_and_differs() {
        let a = p().random(32).unwrap();
        let b = p().random(32).unwrap();
        assert_eq!(a.len(), 32);
        assert_ne!(a.as_bytes(), b.as_bytes());
        assert!(p().random(0).unwrap().is_empty());
        let x: [u8; 16] = p().random_array().unwrap();
        let y: [u8; 16] = p().random_array().unwrap();
        assert_ne!(x, y);
    }

    #[test]
    fn sha256_matches_known_answer() {
        assert_eq!(
            hex::encode(p().sha256(b"abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn hmac_sha256_matches_rfc4231_case_2() {
        assert_eq!(
            hex::encode(p().hmac_sha256(b"Jefe", b"what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn hkdf_sha256_matches_rfc5869_case_1() {
        let ikm = [0x0b; 22];
        let salt = hex::decode("000102030405060708090a0b0c").unwrap();
        let info = hex::decode("f0f1f2f3f4f5f6f7f8f9").unwrap();
        let okm = p().hkdf_sha256(&ikm, &salt, &info, 42).unwrap();
        assert_eq!(
            hex::encode(okm.as_bytes()),
            "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865"
        );
        assert!(matches!(
            p().hkdf_sha256(&ikm, &salt, &info, 0),
            Err(CryptoError::InvalidInput(_))
        ));
        assert!(matches!(
            p().hkdf_sha256(&ikm, &salt, &info, crate::MAX_DERIVED_LEN + 1),
            Err(CryptoError::InvalidInput(_))
        ));
        assert_eq!(
            p().hkdf_sha256(&ikm, &salt, &info, crate::MAX_DERIVED_LEN)
                .unwrap()
                .len(),
            crate::MAX_DERIVED_LEN
        );
    }

    #[test]
    fn pem_round_trips_with_64_column_lines() {
        let der: Vec<u8> = (0..=200u8).collect();
        let pem = p().public_key_pem(&der);
        assert!(pem.starts_with("-----BEGIN PUBLIC KEY-----\n"));
        assert!(pem.ends_with("-----END PUBLIC KEY-----\n"));
        for line in pem.lines() {
            assert!(line.len() <= 64);
        }
        assert_eq!(p().public_key_from_pem(&pem).unwrap(), der);
        let crlf = format!("junk\r\n{}", pem.replace('\n', "\r\n"));
        assert_eq!(p().public_key_from_pem(&crlf).unwrap(), der);
        assert!(matches!(
            p().public_key_from_pem("-----BEGIN PUBLIC KEY-----\n!!!\n-----END PUBLIC KEY-----"),
            Err(CryptoError::InvalidInput(_))
        ));
        assert!(matches!(
            p().public_key_from_pem("nothing"),
            Err(CryptoError::InvalidInput(_))
        ));
    }
}
