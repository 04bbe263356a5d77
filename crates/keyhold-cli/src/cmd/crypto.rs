//! Cryptographic commands: encrypt, decrypt, reencrypt, datakey, sign, verify, mac,
//! mac-verify, random. Results that other programs consume (ciphertext, signature, tag) are
//! printed alone on stdout so they pipe.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use keyhold_client::api;
use keyhold_core::ids::KeyRef;
use keyhold_core::ops::{
    Decrypt, Encrypt, GenerateDataKey, GenerateMac, ReEncrypt, SecretData, Sign, Verify, VerifyMac,
};
use keyhold_core::{MessageType, SecretBytes};
use zeroize::Zeroizing;

use crate::args::{
    DatakeyArgs, DecryptArgs, EncryptArgs, MacArgs, MacVerifyArgs, MessageArgs, RandomArgs,
    ReencryptArgs, SignArgs, VerifyArgs,
};
use crate::error::CliError;
use crate::input::{b64_arg, b64_input, decode_hex, read_data};
use crate::output::{kv, warn, Ctx};
use crate::parse::pairs_to_map;

fn context(pairs: &[(String, String)]) -> Result<keyhold_core::ops::Context, CliError> {
    pairs_to_map(pairs, "context key").map_err(CliError::Input)
}

/// `keyhold encrypt`.
pub async fn encrypt(ctx: &Ctx, a: EncryptArgs) -> Result<ExitCode, CliError> {
    let plaintext = read_data(
        a.data.plaintext.as_deref(),
        a.data.input.as_deref(),
        "give --plaintext TEXT or --in FILE (- for stdin)",
    )?;
    let req = Encrypt {
        key: KeyRef(a.key),
        plaintext: Some(SecretData(SecretBytes::new(plaintext.to_vec()))),
        context: context(&a.context.context)?,
    };
    ctx.run(api::encrypt(&req), |o, r| {
        writeln!(o, "{}", STANDARD.encode(&r.ciphertext))
    })
    .await?;
    Ok(ExitCode::SUCCESS)
}

/// `keyhold decrypt`.
pub async fn decrypt(ctx: &Ctx, a: DecryptArgs) -> Result<ExitCode, CliError> {
    let ciphertext = b64_input(a.ciphertext.as_deref(), a.input.as_deref(), "ciphertext")?;
    let req = Decrypt {
        ciphertext,
        context: context(&a.context.context)?,
    };
    let reply = ctx.fetch(api::decrypt(&req)).await?;
    let r = &reply.value;
    if r.key_compromised {
        warn(&format!(
            "key {} is compromised: this plaintext may be known to others",
            r.key_id
        ));
    }
    if let Some(path) = &a.out {
        write_private_file(path, r.plaintext.0.as_bytes())?;
    }
    if ctx.json || a.out.is_none() {
        ctx.show(&reply, |o, r| o.write_all(r.plaintext.0.as_bytes()))?;
    }
    Ok(ExitCode::SUCCESS)
}

/// Writes secret output readable by the owner only.
pub(super) fn write_private_file(path: &Path, data: &[u8]) -> Result<(), CliError> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options
        .open(path)
        .map_err(|e| CliError::Input(format!("cannot write {}: {e}", path.display())))?;
    file.write_all(data)?;
    file.flush()?;
    Ok(())
}

/// `keyhold reencrypt`.
pub async fn reencrypt(ctx: &Ctx, a: ReencryptArgs) -> Result<ExitCode, CliError> {
    let ciphertext = b64_input(a.ciphertext.as_deref(), a.input.as_deref(), "ciphertext")?;
    let req = ReEncrypt {
        ciphertext,
        source_context: context(&a.context)?,
        destination_key: a.to.map(KeyRef),
        destination_context: if a.to_context.is_empty() {
            None
        } else {
            Some(context(&a.to_context)?)
        },
    };
    ctx.run(api::reencrypt(&req), |o, r| {
        writeln!(o, "{}", STANDARD.encode(&r.ciphertext))
    })
    .await?;
    Ok(ExitCode::SUCCESS)
}

/// `keyhold datakey`.
pub async fn datakey(ctx: &Ctx, a: DatakeyArgs) -> Result<ExitCode, CliError> {
    let req = GenerateDataKey {
        key: KeyRef(a.key),
        number_of_bytes: Some(a.bytes),
        context: context(&a.context.context)?,
        include_plaintext: Some(!a.no_plaintext),
    };
    ctx.run(api::generate_data_key(&req), |o, r| {
        let mut rows = vec![
            ("key_id", r.key_id.to_string()),
            ("key_version", r.key_version.to_string()),
            ("ciphertext", STANDARD.encode(&r.ciphertext)),
        ];
        if let Some(p) = &r.plaintext {
            rows.push(("plaintext", STANDARD.encode(p.0.as_bytes())));
        }
        kv(o, &rows)
    })
    .await?;
    Ok(ExitCode::SUCCESS)
}

/// The message (or digest) of sign, verify, mac and mac-verify.
fn message(m: &MessageArgs, digest: bool) -> Result<Zeroizing<Vec<u8>>, CliError> {
    if digest {
        if let Some(hex) = &m.message {
            return decode_hex(hex).map(Zeroizing::new);
        }
    }
    read_data(
        m.message.as_deref(),
        m.input.as_deref(),
        "give --message TEXT or --in FILE (- for stdin)",
    )
}

fn message_type(digest: bool) -> Option<MessageType> {
    Some(if digest {
        MessageType::Digest
    } else {
        MessageType::Raw
    })
}

/// `keyhold sign`.
pub async fn sign(ctx: &Ctx, a: SignArgs) -> Result<ExitCode, CliError> {
    let req = Sign {
        key: KeyRef(a.key),
        message: message(&a.message, a.digest)?.to_vec(),
        message_type: message_type(a.digest),
        algorithm: a.algorithm,
    };
    ctx.run(api::sign(&req), |o, r| {
        writeln!(o, "{}", STANDARD.encode(&r.signature))
    })
    .await?;
    Ok(ExitCode::SUCCESS)
}

/// `keyhold verify`: exit code 0 when valid, 1 when not.
pub async fn verify(ctx: &Ctx, a: VerifyArgs) -> Result<ExitCode, CliError> {
    let req = Verify {
        key: KeyRef(a.key),
        signature: b64_arg(&a.signature, "signature")?,
        message: message(&a.message, a.digest)?.to_vec(),
        message_type: message_type(a.digest),
        algorithm: a.algorithm,
        key_version: a.version,
    };
    let reply = ctx.fetch(api::verify(&req)).await?;
    verdict(ctx, &reply)
}

/// `keyhold mac`.
pub async fn mac(ctx: &Ctx, a: MacArgs) -> Result<ExitCode, CliError> {
    let req = GenerateMac {
        key: KeyRef(a.key),
        message: message(&a.message, false)?.to_vec(),
    };
    ctx.run(api::mac(&req), |o, r| {
        writeln!(o, "{}", STANDARD.encode(&r.mac))
    })
    .await?;
    Ok(ExitCode::SUCCESS)
}

/// `keyhold mac-verify`: exit code 0 when valid, 1 when not.
pub async fn mac_verify(ctx: &Ctx, a: MacVerifyArgs) -> Result<ExitCode, CliError> {
    let req = VerifyMac {
        key: KeyRef(a.key),
        mac: b64_arg(&a.mac, "MAC")?,
        message: message(&a.message, false)?.to_vec(),
        key_version: a.version,
    };
    let reply = ctx.fetch(api::mac_verify(&req)).await?;
    verdict(ctx, &reply)
}

fn verdict(
    ctx: &Ctx,
    reply: &crate::output::Reply<keyhold_core::ops::VerifyResponse>,
) -> Result<ExitCode, CliError> {
    let r = &reply.value;
    if r.key_compromised {
        warn(&format!("key {} is compromised", r.key_id));
    }
    ctx.show(reply, |o, r| {
        writeln!(o, "{}", if r.valid { "valid" } else { "invalid" })
    })?;
    Ok(if r.valid {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// `keyhold random`.
pub async fn random(ctx: &Ctx, a: RandomArgs) -> Result<ExitCode, CliError> {
    ctx.run(api::random(a.bytes), |o, r| {
        if a.hex {
            writeln!(o, "{}", hex::encode(&r.random))
        } else {
            writeln!(o, "{}", STANDARD.encode(&r.random))
        }
    })
    .await?;
    Ok(ExitCode::SUCCESS)
}
