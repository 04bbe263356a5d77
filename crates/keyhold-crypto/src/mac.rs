//! HMAC generation and verification for stored HMAC keys.

use aws_lc_rs::hmac;

use crate::keys::check_hmac_key_len;
use crate::{constant_time_eq, Algorithm, CryptoError, Provider};

impl Provider {
    /// HMAC of `data` under `key` with the hash of `alg` (an HMAC algorithm).
    ///
    /// The key length is checked as on import: at least half the hash length
    /// and at most 1024 bytes.
    pub fn mac(&self, alg: Algorithm, key: &[u8], data: &[u8]) -> Result<Vec<u8>, CryptoError> {
        let key = hmac_key(alg, key)?;
        Ok(hmac::sign(&key, data).as_ref().to_vec())
    }

    /// Whether `tag` is the HMAC of `data` under `key`, compared in constant
    /// time. A tag of the wrong length is simply `Ok(false)`.
    pub fn mac_verify(
        &self,
        alg: Algorithm,
        key: &[u8],
        data: &[u8],
        tag: &[u8],
    ) -> Result<bool, CryptoError> {
        let key = hmac_key(alg, key)?;
        let expected = hmac::sign(&key, data);
        Ok(constant_time_eq(expected.as_ref(), tag))
    }
}

fn hmac_key(alg: Algorithm, key: &[u8]) -> Result<hmac::Key, CryptoError> {
    let hash = alg.hmac_hash().ok_or(CryptoError::InvalidInput(
        "algorithm is not an HMAC algorithm",
    ))?;
    check_hmac_key_len(alg, key.len())?;
    Ok(hmac::Key::new(hash.hmac_alg(), key))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p() -> Provider {
        Provider::aws_lc()
    }

    #[test]
    fn every_hmac_algorithm_macs_and_verifies() {
        for (alg, len) in [
            (Algorithm::HmacSha256, 32),
            (Algorithm::HmacSha384, 48),
            (Algorithm::HmacSha512, 64),
        ] {
            let key = p().generate(alg).unwrap().private;
            let tag = p().mac(alg, key.as_bytes(), b"message").unwrap();
            assert_eq!(tag.len(), len);
            assert!(p()
                .mac_verify(alg, key.as_bytes(), b"message", &tag)
                .unwrap());
            assert!(!p()
                .mac_verify(alg, key.as_bytes(), b"messagE", &tag)
                .unwrap());
            let mut bad = tag.clone();
            bad[len - 1] ^= 1;
            assert!(!p()
                .mac_verify(alg, key.as_bytes(), b"message", &bad)
                .unwrap());
            assert!(!p()
                .mac_verify(alg, key.as_bytes(), b"message", &tag[..len - 1])
                .unwrap());
        }
    }

    #[test]
    fn hmac_matches_rfc4231_test_cases_1_and_6() {
        assert_eq!(
            hex::encode(
                p().mac(Algorithm::HmacSha256, &[0x0b; 20], b"Hi There")
                    .unwrap()
            ),
            "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"
        );
        let key = [0xaa; 131];
        let data = b"Test Using Larger Than Block-Size Key - Hash Key First";
        for (alg, expected) in [
            (
                Algorithm::HmacSha256,
                "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54",
            ),
            (
                Algorithm::HmacSha384,
                "4ece084485813e9088d2c63a041bc5b44f9ef1012a2b588f\
                 3cd11f05033ac4c60c2ef6ab4030fe8296248df163f44952",
            ),
            (
                Algorithm::HmacSha512,
                "80b24263c7c1a3ebb71493c1dd7be8b49b46d1f41b4aeec1121b013783f8f352\
                 6b56d037e05f2598bd0fd2215d6a1e5295e64f73f63f0aec8b915a985d786598",
            ),
        ] {
            let tag = p().mac(alg, &key, data).unwrap();
            assert_eq!(hex::encode(&tag), expected, "{alg}");
            assert!(p().mac_verify(alg, &key, data, &tag).unwrap());
        }
    }

    #[test]
    fn mac_rejects_non_hmac_algorithms_and_short_keys() {
        assert!(matches!(
            p().mac(Algorithm::Aes256, &[0u8; 32], b"x"),
            Err(CryptoError::InvalidInput(_))
        ));
        assert!(matches!(
            p().mac(Algorithm::HmacSha256, &[0u8; 8], b"x"),
            Err(CryptoError::InvalidKey(_))
        ));
    }
}
