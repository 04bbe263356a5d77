//! Shamir secret sharing over GF(2^8).
//!
//! ```text
//! split(secret, n, m):  for every byte s of the secret, a random polynomial
//!                       f(x) = s + a1 x + ... + a(m-1) x^(m-1) over GF(2^8);
//!                       share i (i = 1..=n) holds f(i) for every byte.
//! combine(shares):      Lagrange interpolation at x = 0.
//! ```
//!
//! The field is GF(2^8) with the AES polynomial x^8 + x^4 + x^3 + x + 1.
//! Field arithmetic is constant-time: multiplication is shift-and-add with
//! masks instead of branches or log/exp tables, and inversion is the fixed
//! exponentiation a^254. Coefficients come from AWS-LC's system RNG.
//!
//! **Combining fewer shares than the threshold does not fail: it silently
//! yields a wrong secret.** Nothing in a share says what the threshold was, so
//! callers must verify the result, e.g. by opening an AEAD ciphertext or
//! checking a MAC made with the secret.

use core::fmt::Write as _;

use aws_lc_rs::digest;
use zeroize::Zeroizing;

use crate::provider::fill_random;
use crate::{constant_time_eq, CryptoError, SecretBytes};

/// Prefix of the text form of a share, naming the format version.
const TEXT_PREFIX: &str = "khs1";

/// One share: the value of the secret's polynomials at `index`.
#[derive(Clone, Debug)]
pub struct Share {
    /// The x coordinate, 1..=255 (0 would be the secret itself).
    pub index: u8,
    /// One byte per secret byte: f(index) for that byte's polynomial.
    pub value: SecretBytes,
}

/// Splits `secret` into `shares` shares of which any `threshold` rebuild it.
///
/// Requires `1 <= threshold <= shares` and a non-empty secret. Shares get
/// indexes 1..=shares. With `threshold == 1` every share equals the secret.
pub fn split(secret: &[u8], shares: u8, threshold: u8) -> Result<Vec<Share>, CryptoError> {
    if secret.is_empty() {
        return Err(CryptoError::InvalidInput("secret to split is empty"));
    }
    if threshold == 0 || threshold > shares {
        return Err(CryptoError::InvalidInput(
            "need 1 <= threshold <= shares <= 255",
        ));
    }
    let degree = usize::from(threshold - 1);
    // coefficients[k * degree + (d - 1)] is the x^d coefficient for byte k.
    let mut coefficients = Zeroizing::new(vec![0u8; secret.len() * degree]);
    fill_random(&mut coefficients)?;

    let mut out = Vec::with_capacity(usize::from(shares));
    for x in 1..=shares {
        let mut value = SecretBytes::zeroed(secret.len());
        for (k, (y, s)) in value.as_mut_bytes().iter_mut().zip(secret).enumerate() {
            let coeffs = &coefficients[k * degree..(k + 1) * degree];
            // Horner's rule from the highest coefficient down to the secret.
            let mut acc = 0u8;
            for &c in coeffs.iter().rev() {
                acc = gf_mul(acc, x) ^ c;
            }
            *y = gf_mul(acc, x) ^ s;
        }
        out.push(Share { index: x, value });
    }
    Ok(out)
}

/// Rebuilds the secret from `shares` (any order).
///
/// Fails with [`CryptoError::InvalidInput`] on no shares, an index 0, a
/// repeated index or shares of unequal or zero length. **With fewer shares
/// than the threshold it returns a wrong secret without error**: callers must
/// verify the result.
pub fn combine(shares: &[Share]) -> Result<SecretBytes, CryptoError> {
    let first = shares
        .first()
        .ok_or(CryptoError::InvalidInput("no shares to combine"))?;
    let len = first.value.len();
    if len == 0 {
        return Err(CryptoError::InvalidInput("empty share"));
    }
    let mut seen = [false; 256];
    for share in shares {
        if share.index == 0 {
            return Err(CryptoError::InvalidInput("share index 0 is not valid"));
        }
        if core::mem::replace(&mut seen[usize::from(share.index)], true) {
            return Err(CryptoError::InvalidInput("duplicate share index"));
        }
        if share.value.len() != len {
            return Err(CryptoError::InvalidInput("shares have different lengths"));
        }
    }
    // Lagrange basis at 0: l_i = prod_{j != i} x_j / (x_j - x_i); minus is xor.
    let basis: Vec<u8> = shares
        .iter()
        .map(|si| {
            shares
                .iter()
                .filter(|sj| sj.index != si.index)
                .fold(1u8, |acc, sj| {
                    gf_mul(acc, gf_mul(sj.index, gf_inv(sj.index ^ si.index)))
                })
        })
        .collect();
    let mut secret = SecretBytes::zeroed(len);
    for (share, l) in shares.iter().zip(basis) {
        for (out, y) in secret.as_mut_bytes().iter_mut().zip(share.value.as_bytes()) {
            *out ^= gf_mul(l, *y);
        }
    }
    Ok(secret)
}

impl Share {
    /// The text form for people to copy:
    /// `khs1-<index, 2 hex digits>-<value, hex>-<checksum, 4 hex digits>`,
    /// where the checksum is the first two bytes of SHA-256(index || value).
    ///
    /// The returned `String` holds the secret share: callers should wipe it
    /// when done, e.g. by keeping it in `zeroize::Zeroizing<String>`. The
    /// value is hex-encoded without secret-dependent branches or tables.
    pub fn to_text(&self) -> String {
        let value = self.value.as_bytes();
        // Exact capacity, so the string never reallocates and leaves no copy.
        let mut text = String::with_capacity(
            TEXT_PREFIX.len() + "-xx-".len() + 2 * value.len() + "-xxxx".len(),
        );
        text.push_str(TEXT_PREFIX);
        // Writing to a String cannot fail.
        let _ = write!(text, "-{:02x}-", self.index);
        for &b in value {
            text.push(hex_digit(b >> 4));
            text.push(hex_digit(b & 0x0f));
        }
        let sum = checksum(self.index, value);
        let _ = write!(text, "-{:02x}{:02x}", sum[0], sum[1]);
        text
    }

    /// Parses the text form made by [`Share::to_text`] (hex digits in either
    /// case, surrounding whitespace ignored). A wrong checksum is
    /// `InvalidInput("share checksum mismatch")`.
    pub fn parse(text: &str) -> Result<Share, CryptoError> {
        let malformed = || CryptoError::InvalidInput("malformed share text");
        let mut parts = text.trim().split('-');
        let (Some(prefix), Some(index), Some(value), Some(sum), None) = (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        ) else {
            return Err(malformed());
        };
        if !prefix.eq_ignore_ascii_case(TEXT_PREFIX) || index.len() != 2 || sum.len() != 4 {
            return Err(malformed());
        }
        let index = decode_hex(index).ok_or_else(malformed)?;
        let sum = decode_hex(sum).ok_or_else(malformed)?;
        let value = decode_hex(value).ok_or_else(malformed)?;
        if value.is_empty() {
            return Err(malformed());
        }
        // Two hex digits decode to exactly one byte.
        let index = index.as_bytes()[0];
        if index == 0 {
            return Err(CryptoError::InvalidInput("share index 0 is not valid"));
        }
        if !constant_time_eq(&checksum(index, value.as_bytes()), sum.as_bytes()) {
            return Err(CryptoError::InvalidInput("share checksum mismatch"));
        }
        Ok(Share { index, value })
    }
}

fn checksum(index: u8, value: &[u8]) -> [u8; 2] {
    let mut ctx = digest::Context::new(&digest::SHA256);
    ctx.update(&[index]);
    ctx.update(value);
    let d = ctx.finish();
    [d.as_ref()[0], d.as_ref()[1]]
}

/// Multiplication in GF(2^8) modulo x^8 + x^4 + x^3 + x + 1, without
/// branches or tables.
fn gf_mul(mut a: u8, mut b: u8) -> u8 {
    let mut r = 0u8;
    for _ in 0..8 {
        r ^= a & (b & 1).wrapping_neg();
        let carry = (a >> 7).wrapping_neg();
        a = (a << 1) ^ (0x1b & carry);
        b >>= 1;
    }
    r
}

/// Inverse in GF(2^8) as a^254 (so 0 maps to 0), with a fixed sequence of
/// multiplications.
fn gf_inv(a: u8) -> u8 {
    // a^254 = a^2 * a^4 * a^8 * a^16 * a^32 * a^64 * a^128
    let mut square = gf_mul(a, a);
    let mut r = square;
    for _ in 0..6 {
        square = gf_mul(square, square);
        r = gf_mul(r, square);
    }
    r
}

/// Lower-case hex digit of a nibble, without branches or tables.
fn hex_digit(nibble: u8) -> char {
    let n = i16::from(nibble & 0x0f);
    // 0..=9 -> '0'..='9'; 10..=15 -> 'a'..='f' (adds 'a' - '0' - 10 = 0x27).
    let c = n + 0x30 + (((9 - n) >> 8) & 0x27);
    // `c` is always an ASCII hex digit, so the conversion cannot fail.
    char::from(u8::try_from(c).unwrap_or(b'0'))
}

/// All ones (-1) if `lo <= x <= hi`, else 0; branch-free.
fn in_range(x: i16, lo: i16, hi: i16) -> i16 {
    ((lo - 1 - x) & (x - hi - 1)) >> 8
}

/// Decodes hex (either case) without secret-dependent branches or tables.
/// `None` for odd length or a non-hex character.
fn decode_hex(text: &str) -> Option<SecretBytes> {
    let bytes = text.as_bytes();
    if bytes.len() % 2 != 0 {
        return None;
    }
    let mut out = SecretBytes::zeroed(bytes.len() / 2);
    let mut invalid = 0i16;
    for (o, pair) in out.as_mut_bytes().iter_mut().zip(bytes.chunks_exact(2)) {
        let mut byte = 0i16;
        for &c in pair {
            let c = i16::from(c);
            let digit = in_range(c, 0x30, 0x39);
            let lower = in_range(c, 0x61, 0x66);
            let upper = in_range(c, 0x41, 0x46);
            let value =
                (digit & (c - 0x30)) | (lower & (c - 0x61 + 10)) | (upper & (c - 0x41 + 10));
            invalid |= !(digit | lower | upper);
            byte = (byte << 4) | value;
        }
        *o = u8::try_from(byte & 0xff).unwrap_or(0);
    }
    (invalid == 0).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Plain schoolbook GF(2^8) multiplication, for checking `gf_mul`.
    fn slow_mul(a: u8, b: u8) -> u8 {
        let mut product: u16 = 0;
        for i in 0..8 {
            if b & (1 << i) != 0 {
                product ^= u16::from(a) << i;
            }
        }
        for i in (8..16).rev() {
            if product & (1 << i) != 0 {
                product ^= 0x11b << (i - 8);
            }
        }
        u8::try_from(product).unwrap()
    }

    #[test]
    fn field_arithmetic_is_the_aes_field() {
        assert_eq!(gf_mul(0x53, 0xca), 0x01);
        assert_eq!(gf_mul(0x57, 0x83), 0xc1); // FIPS-197 section 4.2
        for a in 0..=255u8 {
            for b in 0..=255u8 {
                assert_eq!(gf_mul(a, b), slow_mul(a, b));
            }
            if a != 0 {
                assert_eq!(gf_mul(a, gf_inv(a)), 1, "inverse of {a:#x}");
            }
        }
        assert_eq!(gf_inv(0), 0);
    }

    fn subsets<T: Clone>(items: &[T]) -> Vec<Vec<T>> {
        (0u32..(1 << items.len()))
            .map(|mask| {
                items
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| mask & (1 << i) != 0)
                    .map(|(_, x)| x.clone())
                    .collect()
            })
            .collect()
    }

    #[test]
    fn any_three_of_five_shares_rebuild_the_secret_and_two_do_not() {
        let secret: Vec<u8> = (0..32).collect();
        let shares = split(&secret, 5, 3).unwrap();
        assert_eq!(shares.len(), 5);
        assert_eq!(
            shares.iter().map(|s| s.index).collect::<Vec<_>>(),
            [1, 2, 3, 4, 5]
        );
        let mut rebuilt = 0;
        for subset in subsets(&shares) {
            if subset.is_empty() {
                continue;
            }
            let got = combine(&subset).unwrap();
            if subset.len() >= 3 {
                assert_eq!(got.as_bytes(), &secret[..]);
                let mut reversed = subset.clone();
                reversed.reverse();
                assert_eq!(combine(&reversed).unwrap().as_bytes(), &secret[..]);
                rebuilt += 1;
            } else {
                assert_ne!(got.as_bytes(), &secret[..], "{} shares", subset.len());
            }
        }
        assert_eq!(rebuilt, 10 + 5 + 1);
    }

    #[test]
    fn one_of_one_share_is_the_secret() {
        let shares = split(b"k", 1, 1).unwrap();
        assert_eq!(shares.len(), 1);
        assert_eq!(shares[0].index, 1);
        assert_eq!(shares[0].value.as_bytes(), b"k");
        assert_eq!(combine(&shares).unwrap().as_bytes(), b"k");
    }

    #[test]
    fn shares_of_the_same_secret_differ_between_splits() {
        let a = split(&[0u8; 16], 3, 2).unwrap();
        let b = split(&[0u8; 16], 3, 2).unwrap();
        assert_ne!(a[0].value.as_bytes(), b[0].value.as_bytes());
    }

    #[test]
    fn split_and_combine_reject_invalid_parameters() {
        for (n, m) in [(3, 0), (2, 3), (0, 0)] {
            assert!(matches!(
                split(b"s", n, m),
                Err(CryptoError::InvalidInput(_))
            ));
        }
        assert!(matches!(
            split(b"", 3, 2),
            Err(CryptoError::InvalidInput(_))
        ));
        assert_eq!(split(b"s", 255, 255).unwrap().len(), 255);

        let shares = split(b"secret", 3, 2).unwrap();
        let dup = [shares[0].clone(), shares[0].clone()];
        let zero = [
            Share {
                index: 0,
                value: shares[0].value.clone(),
            },
            shares[1].clone(),
        ];
        let uneven = [
            shares[0].clone(),
            Share {
                index: 2,
                value: SecretBytes::new(b"short".to_vec()),
            },
        ];
        for bad in [&dup[..], &zero[..], &uneven[..], &[]] {
            assert!(matches!(combine(bad), Err(CryptoError::InvalidInput(_))));
        }
    }

    #[test]
    fn text_form_round_trips() {
        let shares = split(&[0xde, 0xad, 0xbe, 0xef, 0x01], 4, 2).unwrap();
        for share in &shares {
            let text = share.to_text();
            assert!(text.starts_with(&format!("khs1-{:02x}-", share.index)));
            assert_eq!(text.len(), 5 + 3 + 10 + 5);
            let back = Share::parse(&text).unwrap();
            assert_eq!(back.index, share.index);
            assert_eq!(back.value.as_bytes(), share.value.as_bytes());
            let upper = Share::parse(&format!("  {}\n", text.to_uppercase())).unwrap();
            assert_eq!(upper.value.as_bytes(), share.value.as_bytes());
        }
        let known = Share {
            index: 0xab,
            value: SecretBytes::new((0..=255).collect()),
        };
        let text = known.to_text();
        let hex_value: String = (0..=255u8).map(|b| format!("{b:02x}")).collect();
        assert_eq!(text.split('-').nth(2).unwrap(), hex_value);
        let mut sum_input = vec![0xab];
        sum_input.extend(0..=255u8);
        let sum = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &sum_input);
        assert!(text.ends_with(&hex::encode(&sum.as_ref()[..2])));
        assert_eq!(
            Share::parse(&text).unwrap().value.as_bytes(),
            known.value.as_bytes()
        );
    }

    #[test]
    fn text_form_with_a_changed_digit_fails_the_checksum() {
        let share = split(b"a secret key", 3, 2).unwrap().remove(1);
        let text = share.to_text();
        let value_start = "khs1-02-".len();
        for pos in [3usize, value_start, value_start + 5, text.len() - 1] {
            let mut bytes = text.clone().into_bytes();
            if pos == 3 {
                // Change the index instead: "khs1-02" -> "khs1-03".
                bytes[6] = b'3';
            } else {
                bytes[pos] = if bytes[pos] == b'0' { b'1' } else { b'0' };
            }
            let changed = String::from_utf8(bytes).unwrap();
            match Share::parse(&changed) {
                Err(CryptoError::InvalidInput(msg)) => assert_eq!(msg, "share checksum mismatch"),
                other => panic!("{changed}: {other:?}"),
            }
        }
    }

    #[test]
    fn malformed_text_is_rejected() {
        let good = split(b"abc", 2, 2).unwrap()[0].to_text();
        let bad = [
            String::new(),
            good.replace("khs1", "khs2"),
            good.replacen('-', "", 1),
            format!("{good}-00"),
            good.replacen("-01-", "-1-", 1),
            good.replacen("-01-", "-00-", 1),
            good.replacen("-01-", "-0g-", 1),
            {
                let mut s = good.clone();
                s.insert(9, '0');
                s
            },
            {
                let mut s = good.clone();
                s.replace_range(9..10, "z");
                s
            },
        ];
        for text in bad {
            assert!(
                matches!(Share::parse(&text), Err(CryptoError::InvalidInput(_))),
                "{text:?}"
            );
        }
    }

    #[test]
    fn hex_helpers_cover_every_byte() {
        for b in 0..=255u8 {
            let text: String = [hex_digit(b >> 4), hex_digit(b & 15)].into_iter().collect();
            assert_eq!(text, format!("{b:02x}"));
            assert_eq!(decode_hex(&text).unwrap().as_bytes(), [b]);
            assert_eq!(decode_hex(&text.to_uppercase()).unwrap().as_bytes(), [b]);
        }
        for c in 0..=127u8 {
            let valid = c.is_ascii_hexdigit();
            let text = format!("0{}", char::from(c));
            assert_eq!(decode_hex(&text).is_some(), valid, "{c:#x}");
        }
        assert!(decode_hex("abc").is_none());
        assert!(decode_hex("é0").is_none());
    }
}
