//! [`SqlSnapshot`]: a [`Snapshot`] over one read transaction.
//!
//! ```text
//!  reader connection ─ BEGIN ─ first SELECT fixes the view (WAL: later commits invisible)
//!                    ─ pages: SELECT … WHERE (sort key) > (last seen) ORDER BY … LIMIT n
//!                    ─ dropped: ROLLBACK, connection back to the pool
//! ```
//!
//! The writer keeps committing while the snapshot is open; the write-ahead log cannot be
//! checkpointed past the snapshot until it closes (a full checkpoint after destruction then
//! waits for the next one, see `Dialect::scrub_after_destroy`).

use async_trait::async_trait;
use keyhold_core::archive::ArchivedVersion;
use keyhold_core::ids::{AliasName, ApprovalId, GrantId, KeyId, TenantId, TokenId, TrustAnchorId};
use keyhold_core::model::{
    Alias, ClientCertRecord, Grant, KeyRecord, KeyVersion, TenantRecord, TokenRecord,
    TrustAnchorRecord,
};
use keyhold_core::policy::{ApprovalRecord, GrantUses, PolicyVersion};
use keyhold_core::store::{Snapshot, StoreError};
use serde::de::DeserializeOwned;
use sqlx::{Any, AnyPool, Row, Transaction};

use crate::error::backend;
use crate::read::{decode_audit, decode_doc, AnyQuery};

/// A read transaction on a reader connection.
pub(crate) struct SqlSnapshot {
    tx: Transaction<'static, Any>,
}

impl SqlSnapshot {
    /// Opens the transaction and fixes its view with a first read.
    pub(crate) async fn begin(pool: &AnyPool) -> Result<Self, StoreError> {
        let mut tx = pool.begin().await.map_err(backend)?;
        // In WAL mode a deferred transaction takes its snapshot at its first read.
        sqlx::query("SELECT COUNT(*) FROM tenants")
            .fetch_one(&mut *tx)
            .await
            .map_err(backend)?;
        Ok(Self { tx })
    }

    async fn records<T: DeserializeOwned>(
        &mut self,
        q: AnyQuery<'_>,
    ) -> Result<Vec<T>, StoreError> {
        let rows = q.fetch_all(&mut *self.tx).await.map_err(backend)?;
        rows.iter().map(decode_doc).collect()
    }
}

/// `key_id` and `version` of the last row seen, or a position before every row.
fn version_cursor(after: Option<(&KeyId, u32)>) -> (String, i64) {
    match after {
        Some((k, v)) => (k.to_string(), i64::from(v)),
        None => (String::new(), -1),
    }
}

#[async_trait]
impl Snapshot for SqlSnapshot {
    async fn tenants(&mut self) -> Result<Vec<TenantRecord>, StoreError> {
        self.records(sqlx::query("SELECT doc FROM tenants ORDER BY id"))
            .await
    }

    async fn system_values(&mut self, prefix: &str) -> Result<Vec<(String, Vec<u8>)>, StoreError> {
        let rows = sqlx::query("SELECT name, value FROM system ORDER BY name")
            .fetch_all(&mut *self.tx)
            .await
            .map_err(backend)?;
        let mut out = Vec::new();
        for row in rows {
            let name: String = row.try_get(0).map_err(backend)?;
            if name.starts_with(prefix) {
                out.push((name, row.try_get(1).map_err(backend)?));
            }
        }
        Ok(out)
    }

    async fn audit_head(&mut self) -> Result<Option<(u64, String)>, StoreError> {
        let row = sqlx::query("SELECT doc FROM audit ORDER BY seq DESC LIMIT 1")
            .fetch_optional(&mut *self.tx)
            .await
            .map_err(backend)?;
        let event = row.map(|r| decode_audit(&r)).transpose()?;
        Ok(event.map(|e| (e.seq, e.hash)))
    }

    async fn keys(
        &mut self,
        after: Option<&KeyId>,
        limit: u32,
    ) -> Result<Vec<KeyRecord>, StoreError> {
        let after = after.map(|k| k.to_string()).unwrap_or_default();
        let q = sqlx::query("SELECT doc FROM keys WHERE id > $1 ORDER BY id LIMIT $2")
            .bind(after)
            .bind(i64::from(limit));
        self.records(q).await
    }

    async fn versions(
        &mut self,
        after: Option<(&KeyId, u32)>,
        limit: u32,
    ) -> Result<Vec<KeyVersion>, StoreError> {
        let (key, version) = version_cursor(after);
        let q = sqlx::query(
            "SELECT doc FROM key_versions WHERE key_id > $1 OR (key_id = $1 AND version > $2) \
             ORDER BY key_id, version LIMIT $3",
        )
        .bind(key)
        .bind(version)
        .bind(i64::from(limit));
        self.records(q).await
    }

    async fn archived_versions(
        &mut self,
        after: Option<(&KeyId, u32)>,
        limit: u32,
    ) -> Result<Vec<ArchivedVersion>, StoreError> {
        let (key, version) = version_cursor(after);
        let q = sqlx::query(
            "SELECT doc FROM archive WHERE key_id > $1 OR (key_id = $1 AND version > $2) \
             ORDER BY key_id, version LIMIT $3",
        )
        .bind(key)
        .bind(version)
        .bind(i64::from(limit));
        self.records(q).await
    }

    async fn aliases(
        &mut self,
        after: Option<(&TenantId, &AliasName)>,
        limit: u32,
    ) -> Result<Vec<Alias>, StoreError> {
        let (tenant, name) = match after {
            Some((t, n)) => (t.to_string(), n.as_str().to_owned()),
            None => (String::new(), String::new()),
        };
        let q = sqlx::query(
            "SELECT doc FROM aliases WHERE tenant > $1 OR (tenant = $1 AND name > $2) \
             ORDER BY tenant, name LIMIT $3",
        )
        .bind(tenant)
        .bind(name)
        .bind(i64::from(limit));
        self.records(q).await
    }

    async fn grants(
        &mut self,
        after: Option<&GrantId>,
        limit: u32,
    ) -> Result<Vec<Grant>, StoreError> {
        let after = after.map(|g| g.to_string()).unwrap_or_default();
        let q = sqlx::query("SELECT doc FROM grants WHERE id > $1 ORDER BY id LIMIT $2")
            .bind(after)
            .bind(i64::from(limit));
        self.records(q).await
    }

    async fn tokens(
        &mut self,
        after: Option<&TokenId>,
        limit: u32,
    ) -> Result<Vec<TokenRecord>, StoreError> {
        let after = after.map(|t| t.to_string()).unwrap_or_default();
        let q = sqlx::query("SELECT doc FROM tokens WHERE id > $1 ORDER BY id LIMIT $2")
            .bind(after)
            .bind(i64::from(limit));
        self.records(q).await
    }

    async fn client_certs(
        &mut self,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<ClientCertRecord>, StoreError> {
        let q = sqlx::query(
            "SELECT doc FROM client_certs WHERE fingerprint > $1 ORDER BY fingerprint LIMIT $2",
        )
        .bind(after.unwrap_or_default().to_owned())
        .bind(i64::from(limit));
        self.records(q).await
    }

    async fn trust_anchors(
        &mut self,
        after: Option<&TrustAnchorId>,
        limit: u32,
    ) -> Result<Vec<TrustAnchorRecord>, StoreError> {
        let after = after.map(|t| t.to_string()).unwrap_or_default();
        let q = sqlx::query("SELECT doc FROM trust_anchors WHERE id > $1 ORDER BY id LIMIT $2")
            .bind(after)
            .bind(i64::from(limit));
        self.records(q).await
    }

    async fn policy_versions(
        &mut self,
        after: Option<(&TenantId, &str, u32)>,
        limit: u32,
    ) -> Result<Vec<PolicyVersion>, StoreError> {
        let (tenant, subject, version) = match after {
            Some((t, s, v)) => (t.to_string(), s.to_owned(), i64::from(v)),
            None => (String::new(), String::new(), -1),
        };
        let q = sqlx::query(
            "SELECT doc FROM policy_versions WHERE (tenant, subject, version) > ($1, $2, $3) \
             ORDER BY tenant, subject, version LIMIT $4",
        )
        .bind(tenant)
        .bind(subject)
        .bind(version)
        .bind(i64::from(limit));
        self.records(q).await
    }

    async fn grant_uses(
        &mut self,
        after: Option<&GrantId>,
        limit: u32,
    ) -> Result<Vec<GrantUses>, StoreError> {
        let after = after.map(|g| g.to_string()).unwrap_or_default();
        let q = sqlx::query(
            "SELECT doc FROM grant_uses WHERE grant_id > $1 ORDER BY grant_id LIMIT $2",
        )
        .bind(after)
        .bind(i64::from(limit));
        self.records(q).await
    }

    async fn approvals(
        &mut self,
        after: Option<&ApprovalId>,
        limit: u32,
    ) -> Result<Vec<ApprovalRecord>, StoreError> {
        let after = after.map(|a| a.to_string()).unwrap_or_default();
        let q = sqlx::query("SELECT doc FROM approvals WHERE id > $1 ORDER BY id LIMIT $2")
            .bind(after)
            .bind(i64::from(limit));
        self.records(q).await
    }
}
