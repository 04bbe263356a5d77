//! Output: the server's JSON with `--json`, short readable lines and tables otherwise. Only
//! results go to stdout; progress, warnings and errors go to stderr.

use std::io::{self, Write};

use keyhold_client::{ApiRequest, Client};
use keyhold_core::ops::KeyInfo;
use serde::de::DeserializeOwned;

use crate::error::CliError;
use crate::parse::format_duration;

/// What every command runs with.
#[derive(Debug)]
pub struct Ctx {
    /// The API client.
    pub client: Client,
    /// `--json`.
    pub json: bool,
}

/// A decoded answer, with the server's JSON when `--json` asks for it.
#[derive(Debug)]
pub struct Reply<T> {
    /// The decoded answer.
    pub value: T,
    raw: Option<serde_json::Value>,
}

impl<T> Reply<T> {
    /// The server's JSON, when `--json` is set.
    pub fn raw(&self) -> Option<&serde_json::Value> {
        self.raw.as_ref()
    }
}

/// Stdout, locked for the command's output.
pub type Out = io::StdoutLock<'static>;

impl Ctx {
    /// Sends a request; keeps the raw JSON when `--json` is set.
    pub async fn fetch<T: DeserializeOwned>(
        &self,
        req: ApiRequest<T>,
    ) -> Result<Reply<T>, CliError> {
        if self.json {
            let raw = self.client.send_json(req).await?;
            let value = serde_json::from_value(raw.clone())?;
            Ok(Reply {
                value,
                raw: Some(raw),
            })
        } else {
            Ok(Reply {
                value: self.client.send(req).await?,
                raw: None,
            })
        }
    }

    /// Prints an answer: its JSON with `--json`, else through `human`.
    pub fn show<T>(
        &self,
        reply: &Reply<T>,
        human: impl FnOnce(&mut Out, &T) -> io::Result<()>,
    ) -> Result<(), CliError> {
        let mut out = io::stdout().lock();
        match &reply.raw {
            Some(raw) => print_json(&mut out, raw)?,
            None => human(&mut out, &reply.value)?,
        }
        out.flush()?;
        Ok(())
    }

    /// Sends a request and prints its answer.
    pub async fn run<T: DeserializeOwned>(
        &self,
        req: ApiRequest<T>,
        human: impl FnOnce(&mut Out, &T) -> io::Result<()>,
    ) -> Result<(), CliError> {
        let reply = self.fetch(req).await?;
        self.show(&reply, human)
    }
}

/// Pretty JSON and a newline.
pub fn print_json(out: &mut impl Write, value: &serde_json::Value) -> io::Result<()> {
    let text = serde_json::to_string_pretty(value).map_err(io::Error::other)?;
    writeln!(out, "{text}")
}

/// `name  value` lines with the values aligned.
pub fn kv(out: &mut impl Write, rows: &[(&str, String)]) -> io::Result<()> {
    let width = rows.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
    for (k, v) in rows {
        writeln!(out, "{k:<width$}  {v}")?;
    }
    Ok(())
}

/// A table with a header row; columns sized to their content.
pub fn table(out: &mut impl Write, headers: &[&str], rows: &[Vec<String>]) -> io::Result<()> {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.len()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |out: &mut dyn Write, cells: &mut dyn Iterator<Item = &str>| -> io::Result<()> {
        let mut text = String::new();
        for (i, (cell, w)) in cells.zip(&widths).enumerate() {
            if i + 1 == widths.len() {
                text.push_str(cell);
            } else {
                text.push_str(&format!("{cell:<w$}  "));
            }
        }
        writeln!(out, "{}", text.trim_end())
    };
    line(out, &mut headers.iter().copied())?;
    for row in rows {
        line(out, &mut row.iter().map(String::as_str))?;
    }
    Ok(())
}

/// `-` for an absent value.
pub fn or_dash(v: Option<impl ToString>) -> String {
    v.map(|v| v.to_string()).unwrap_or_else(|| "-".into())
}

/// The short form of a key: what changed after create, update or a state change.
pub fn key_short(out: &mut impl Write, k: &KeyInfo) -> io::Result<()> {
    let mut rows = vec![
        ("id", k.id.to_string()),
        ("name", or_dash(k.name.as_ref())),
        ("algorithm", k.algorithm.to_string()),
        ("state", k.state.to_string()),
        ("version", k.current_version.to_string()),
    ];
    if let Some(at) = k.lifecycle.destroy_at {
        rows.push(("destroy at", at.to_string()));
    }
    if let Some(at) = k.lifecycle.archived_at {
        rows.push(("archived", at.to_string()));
    }
    kv(out, &rows)
}

/// Everything about a key.
pub fn key_full(out: &mut impl Write, k: &KeyInfo) -> io::Result<()> {
    let lc = &k.lifecycle;
    let mut rows = vec![
        ("id", k.id.to_string()),
        ("name", or_dash(k.name.as_ref())),
        ("algorithm", k.algorithm.to_string()),
        ("usage", k.usage.to_string()),
        ("origin", serde_name(&k.origin)),
        ("state", k.state.to_string()),
        (
            "version",
            format!(
                "{} (oldest for decryption: {})",
                k.current_version, k.min_decrypt_version
            ),
        ),
        ("created", format!("{} by {}", k.created_at, k.created_by)),
        ("rotated", k.rotated_at.to_string()),
    ];
    if !k.labels.is_empty() {
        rows.push(("labels", k.labels.join(", ")));
    }
    if let Some(m) = k.usage_mask {
        rows.push(("usage mask", format!("{:#x}", m.0)));
    }
    if let Some(p) = k.rotation_period_secs {
        let next = k
            .next_rotation_at
            .map(|t| format!(", next {t}"))
            .unwrap_or_default();
        rows.push(("rotation", format!("every {}{next}", format_duration(p))));
    }
    if let Some(p) = lc.crypto_period_secs {
        rows.push(("crypto-period", format_duration(p)));
    }
    let dates = [
        ("activation", lc.activation_date),
        ("deactivation", lc.deactivation_date),
        ("compromised", lc.compromise_date),
        ("destroy at", lc.destroy_at),
        ("destroyed", lc.destroyed_at),
        ("archived", lc.archived_at),
    ];
    for (label, date) in dates {
        if let Some(d) = date {
            rows.push((label, d.to_string()));
        }
    }
    if let Some(r) = lc.revocation_reason {
        rows.push(("revoked", serde_name(&r)));
    }
    if !k.description.is_empty() {
        rows.push(("description", k.description.clone()));
    }
    if !k.tags.is_empty() {
        let tags: Vec<String> = k.tags.iter().map(|(t, v)| format!("{t}={v}")).collect();
        rows.push(("tags", tags.join(", ")));
    }
    if !k.aliases.is_empty() {
        let aliases: Vec<&str> = k.aliases.iter().map(|a| a.as_str()).collect();
        rows.push(("aliases", aliases.join(", ")));
    }
    if !k.versions.is_empty() {
        let versions: Vec<String> = k
            .versions
            .iter()
            .map(|v| {
                let gone = if v.destroyed { ", destroyed" } else { "" };
                format!("{} ({}{gone})", v.version, v.created_at)
            })
            .collect();
        rows.push(("versions", versions.join("; ")));
    }
    kv(out, &rows)
}

/// The serde wire name of an enum value, e.g. `key-compromise`.
pub fn serde_name(v: &impl serde::Serialize) -> String {
    match serde_json::to_value(v) {
        Ok(serde_json::Value::String(s)) => s,
        _ => "?".into(),
    }
}

/// A warning on stderr (never fails: a closed stderr is not worth an error).
pub fn warn(message: &str) {
    let _ = writeln!(io::stderr(), "warning: {message}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_align_columns() {
        let mut out = Vec::new();
        table(
            &mut out,
            &["ID", "NAME", "STATE"],
            &[
                vec!["1".into(), "billing".into(), "active".into()],
                vec!["22".into(), "-".into(), "pre-active".into()],
            ],
        )
        .unwrap();
        let text = String::from_utf8(out).unwrap();
        assert_eq!(
            text,
            "ID  NAME     STATE\n1   billing  active\n22  -        pre-active\n"
        );
    }

    #[test]
    fn kv_aligns_values() {
        let mut out = Vec::new();
        kv(&mut out, &[("id", "x".into()), ("state", "active".into())]).unwrap();
        assert_eq!(String::from_utf8(out).unwrap(), "id     x\nstate  active\n");
    }

    #[test]
    fn serde_names_are_wire_names() {
        assert_eq!(
            serde_name(&keyhold_core::lifecycle::RevocationReason::KeyCompromise),
            "key-compromise"
        );
    }
}
