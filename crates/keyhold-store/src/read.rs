//! The read queries. They run on the read pool, outside any transaction, and see every
//! committed batch.

use keyhold_core::archive::ArchivedVersion;
use keyhold_core::audit::AuditEvent;
use keyhold_core::clock::Timestamp;
use keyhold_core::ids::{
    AliasName, ApprovalId, GrantId, KeyId, KeyName, PrincipalName, TenantId, TokenId, TrustAnchorId,
};
use keyhold_core::model::{
    Alias, ClientCertRecord, Grant, KeyRecord, KeyVersion, TenantRecord, TokenRecord,
    TrustAnchorRecord,
};
use keyhold_core::policy::{ApprovalRecord, ApprovalStatus, PolicySubject, PolicyVersion};
use keyhold_core::store::{decode_record, KeyFilter, StoreError};
use serde::de::DeserializeOwned;
use sqlx::any::AnyRow;
use sqlx::{Any, AnyPool, Row};

use crate::error::{backend, to_i64};

/// A query of the `Any` driver.
pub(crate) type AnyQuery<'q> = sqlx::query::Query<'q, Any, sqlx::any::AnyArguments>;

/// A system value.
pub(crate) async fn system_value(
    pool: &AnyPool,
    name: &str,
) -> Result<Option<Vec<u8>>, StoreError> {
    let row = sqlx::query("SELECT value FROM system WHERE name = $1")
        .bind(name)
        .fetch_optional(pool)
        .await
        .map_err(backend)?;
    row.map(|r| r.try_get::<Vec<u8>, _>(0).map_err(backend))
        .transpose()
}

/// A tenant.
pub(crate) async fn tenant(
    pool: &AnyPool,
    id: &TenantId,
) -> Result<Option<TenantRecord>, StoreError> {
    fetch_record(
        pool,
        sqlx::query("SELECT doc FROM tenants WHERE id = $1").bind(id.as_str()),
    )
    .await
}

/// All tenants, by id.
pub(crate) async fn tenants(pool: &AnyPool) -> Result<Vec<TenantRecord>, StoreError> {
    fetch_records(pool, sqlx::query("SELECT doc FROM tenants ORDER BY id")).await
}

/// A key of `tenant` by id.
pub(crate) async fn key(
    pool: &AnyPool,
    tenant: &TenantId,
    id: &KeyId,
) -> Result<Option<KeyRecord>, StoreError> {
    let q = sqlx::query("SELECT doc FROM keys WHERE id = $1 AND tenant = $2")
        .bind(id.to_string())
        .bind(tenant.as_str());
    fetch_record(pool, q).await
}

/// A key by id, whatever its tenant.
pub(crate) async fn key_any_tenant(
    pool: &AnyPool,
    id: &KeyId,
) -> Result<Option<KeyRecord>, StoreError> {
    fetch_record(
        pool,
        sqlx::query("SELECT doc FROM keys WHERE id = $1").bind(id.to_string()),
    )
    .await
}

/// A key of `tenant` by name.
pub(crate) async fn key_by_name(
    pool: &AnyPool,
    tenant: &TenantId,
    name: &KeyName,
) -> Result<Option<KeyRecord>, StoreError> {
    let q = sqlx::query("SELECT doc FROM keys WHERE tenant = $1 AND name = $2")
        .bind(tenant.as_str())
        .bind(name.as_str());
    fetch_record(pool, q).await
}

/// A key of `tenant` by idempotency token.
pub(crate) async fn key_by_idempotency(
    pool: &AnyPool,
    tenant: &TenantId,
    token: &str,
) -> Result<Option<KeyRecord>, StoreError> {
    let q = sqlx::query("SELECT doc FROM keys WHERE tenant = $1 AND idempotency_token = $2")
        .bind(tenant.as_str())
        .bind(token);
    fetch_record(pool, q).await
}

/// Keys of `tenant` matching `filter`, by id, after `after`.
pub(crate) async fn list_keys(
    pool: &AnyPool,
    tenant: &TenantId,
    filter: &KeyFilter,
    after: Option<&KeyId>,
    limit: u32,
) -> Result<Vec<KeyRecord>, StoreError> {
    let mut s = Select::new(
        "SELECT doc FROM keys WHERE tenant = $1",
        Param::Text(tenant.to_string()),
    );
    if let Some(state) = filter.state {
        s.and_eq("state", Param::Text(state.as_str().to_owned()));
    }
    if let Some(algorithm) = filter.algorithm {
        s.and_eq("algorithm", Param::Text(algorithm.as_str().to_owned()));
    }
    if let Some((tag, value)) = &filter.tag {
        let tag = s.param(Param::Text(tag.clone()));
        let value = s.param(Param::Text(value.clone()));
        s.push(&format!(
            " AND EXISTS (SELECT 1 FROM key_tags t WHERE t.key_id = keys.id AND t.tag = {tag} AND t.value = {value})"
        ));
    }
    if let Some(label) = &filter.label {
        let label = s.param(Param::Text(label.clone()));
        s.push(&format!(
            " AND EXISTS (SELECT 1 FROM key_labels l WHERE l.key_id = keys.id AND l.label = {label})"
        ));
    }
    if let Some(prefix) = filter.name_prefix.as_deref().filter(|p| !p.is_empty()) {
        // A range on the (tenant, name) index: names are compared byte-wise, and UTF-8 byte
        // order is code-point order, so [prefix, successor) holds exactly the names with it.
        let low = s.param(Param::Text(prefix.to_owned()));
        s.push(&format!(" AND name >= {low}"));
        if let Some(high) = prefix_successor(prefix) {
            let high = s.param(Param::Text(high));
            s.push(&format!(" AND name < {high}"));
        }
    }
    if let Some(after) = after {
        let after = s.param(Param::Text(after.to_string()));
        s.push(&format!(" AND id > {after}"));
    }
    let limit = s.param(Param::Int(i64::from(limit)));
    s.push(&format!(" ORDER BY id LIMIT {limit}"));
    s.fetch_records(pool).await
}

/// Keys of any tenant whose next date-driven event is due at `now`, soonest first.
pub(crate) async fn keys_due(
    pool: &AnyPool,
    now: Timestamp,
    limit: u32,
) -> Result<Vec<KeyRecord>, StoreError> {
    let q = sqlx::query(
        "SELECT doc FROM keys WHERE next_due IS NOT NULL AND next_due <= $1 ORDER BY next_due, id LIMIT $2",
    )
    .bind(now.millis())
    .bind(i64::from(limit));
    fetch_records(pool, q).await
}

/// One version of a key.
pub(crate) async fn version(
    pool: &AnyPool,
    key: &KeyId,
    version: u32,
) -> Result<Option<KeyVersion>, StoreError> {
    let q = sqlx::query("SELECT doc FROM key_versions WHERE key_id = $1 AND version = $2")
        .bind(key.to_string())
        .bind(i64::from(version));
    fetch_record(pool, q).await
}

/// All versions of a key, oldest first.
pub(crate) async fn versions(pool: &AnyPool, key: &KeyId) -> Result<Vec<KeyVersion>, StoreError> {
    let q = sqlx::query("SELECT doc FROM key_versions WHERE key_id = $1 ORDER BY version")
        .bind(key.to_string());
    fetch_records(pool, q).await
}

/// One archived version.
pub(crate) async fn archived_version(
    pool: &AnyPool,
    key: &KeyId,
    version: u32,
) -> Result<Option<ArchivedVersion>, StoreError> {
    let q = sqlx::query("SELECT doc FROM archive WHERE key_id = $1 AND version = $2")
        .bind(key.to_string())
        .bind(i64::from(version));
    fetch_record(pool, q).await
}

/// An alias.
pub(crate) async fn alias(
    pool: &AnyPool,
    tenant: &TenantId,
    name: &AliasName,
) -> Result<Option<Alias>, StoreError> {
    let q = sqlx::query("SELECT doc FROM aliases WHERE tenant = $1 AND name = $2")
        .bind(tenant.as_str())
        .bind(name.as_str());
    fetch_record(pool, q).await
}

/// Aliases of a tenant, optionally of one key, by name.
pub(crate) async fn aliases(
    pool: &AnyPool,
    tenant: &TenantId,
    key: Option<&KeyId>,
) -> Result<Vec<Alias>, StoreError> {
    let mut s = Select::new(
        "SELECT doc FROM aliases WHERE tenant = $1",
        Param::Text(tenant.to_string()),
    );
    if let Some(key) = key {
        s.and_eq("key_id", Param::Text(key.to_string()));
    }
    s.push(" ORDER BY name");
    s.fetch_records(pool).await
}

/// A token by the hash of its secret.
pub(crate) async fn token_by_hash(
    pool: &AnyPool,
    secret_hash: &str,
) -> Result<Option<TokenRecord>, StoreError> {
    fetch_record(
        pool,
        sqlx::query("SELECT doc FROM tokens WHERE secret_hash = $1").bind(secret_hash),
    )
    .await
}

/// A token of `tenant` by id.
pub(crate) async fn token(
    pool: &AnyPool,
    tenant: &TenantId,
    id: &TokenId,
) -> Result<Option<TokenRecord>, StoreError> {
    let q = sqlx::query("SELECT doc FROM tokens WHERE id = $1 AND tenant = $2")
        .bind(id.to_string())
        .bind(tenant.as_str());
    fetch_record(pool, q).await
}

/// A client certificate by fingerprint.
pub(crate) async fn client_cert(
    pool: &AnyPool,
    fingerprint: &str,
) -> Result<Option<ClientCertRecord>, StoreError> {
    fetch_record(
        pool,
        sqlx::query("SELECT doc FROM client_certs WHERE fingerprint = $1").bind(fingerprint),
    )
    .await
}

/// Client certificates of a tenant, by fingerprint.
pub(crate) async fn client_certs(
    pool: &AnyPool,
    tenant: &TenantId,
) -> Result<Vec<ClientCertRecord>, StoreError> {
    fetch_records(
        pool,
        sqlx::query("SELECT doc FROM client_certs WHERE tenant = $1 ORDER BY fingerprint")
            .bind(tenant.as_str()),
    )
    .await
}

/// A trust anchor by id.
pub(crate) async fn trust_anchor(
    pool: &AnyPool,
    id: &TrustAnchorId,
) -> Result<Option<TrustAnchorRecord>, StoreError> {
    fetch_record(
        pool,
        sqlx::query("SELECT doc FROM trust_anchors WHERE id = $1").bind(id.to_string()),
    )
    .await
}

/// Trust anchors of a tenant or of all, by id.
pub(crate) async fn trust_anchors(
    pool: &AnyPool,
    tenant: Option<&TenantId>,
) -> Result<Vec<TrustAnchorRecord>, StoreError> {
    let q = match tenant {
        Some(t) => sqlx::query("SELECT doc FROM trust_anchors WHERE tenant = $1 ORDER BY id")
            .bind(t.as_str().to_owned()),
        None => sqlx::query("SELECT doc FROM trust_anchors ORDER BY id"),
    };
    fetch_records(pool, q).await
}

/// Tokens of a tenant, by id (ids are time-ordered, so this is creation order).
pub(crate) async fn tokens(
    pool: &AnyPool,
    tenant: &TenantId,
) -> Result<Vec<TokenRecord>, StoreError> {
    fetch_records(
        pool,
        sqlx::query("SELECT doc FROM tokens WHERE tenant = $1 ORDER BY id").bind(tenant.as_str()),
    )
    .await
}

/// Grants of a tenant, optionally of one key and/or grantee, by id.
pub(crate) async fn grants(
    pool: &AnyPool,
    tenant: &TenantId,
    key: Option<&KeyId>,
    grantee: Option<&PrincipalName>,
) -> Result<Vec<Grant>, StoreError> {
    let mut s = Select::new(
        "SELECT doc FROM grants WHERE tenant = $1",
        Param::Text(tenant.to_string()),
    );
    if let Some(key) = key {
        s.and_eq("key_id", Param::Text(key.to_string()));
    }
    if let Some(grantee) = grantee {
        s.and_eq("grantee", Param::Text(grantee.to_string()));
    }
    s.push(" ORDER BY id");
    s.fetch_records(pool).await
}

/// How many times a grant was used.
pub(crate) async fn grant_uses(
    pool: &AnyPool,
    tenant: &TenantId,
    grant: &GrantId,
) -> Result<u64, StoreError> {
    let row = sqlx::query("SELECT uses FROM grant_uses WHERE grant_id = $1 AND tenant = $2")
        .bind(grant.to_string())
        .bind(tenant.as_str())
        .fetch_optional(pool)
        .await
        .map_err(backend)?;
    match row {
        Some(r) => {
            let n: i64 = r.try_get(0).map_err(backend)?;
            Ok(u64::try_from(n).unwrap_or(0))
        }
        None => Ok(0),
    }
}

/// Every version of a policy, oldest first.
pub(crate) async fn policy_versions(
    pool: &AnyPool,
    tenant: &TenantId,
    subject: &PolicySubject,
) -> Result<Vec<PolicyVersion>, StoreError> {
    let q = sqlx::query(
        "SELECT doc FROM policy_versions WHERE tenant = $1 AND subject = $2 ORDER BY version",
    )
    .bind(tenant.as_str())
    .bind(subject.as_text());
    fetch_records(pool, q).await
}

/// The latest version of a policy.
pub(crate) async fn latest_policy(
    pool: &AnyPool,
    tenant: &TenantId,
    subject: &PolicySubject,
) -> Result<Option<PolicyVersion>, StoreError> {
    let q = sqlx::query(
        "SELECT doc FROM policy_versions WHERE tenant = $1 AND subject = $2 \
         ORDER BY version DESC LIMIT 1",
    )
    .bind(tenant.as_str())
    .bind(subject.as_text());
    fetch_record(pool, q).await
}

/// An approval of `tenant`.
pub(crate) async fn approval(
    pool: &AnyPool,
    tenant: &TenantId,
    id: &ApprovalId,
) -> Result<Option<ApprovalRecord>, StoreError> {
    let q = sqlx::query("SELECT doc FROM approvals WHERE id = $1 AND tenant = $2")
        .bind(id.to_string())
        .bind(tenant.as_str());
    fetch_record(pool, q).await
}

/// Approvals of `tenant`, newest first, optionally of one status, before `before`.
pub(crate) async fn approvals(
    pool: &AnyPool,
    tenant: &TenantId,
    status: Option<ApprovalStatus>,
    before: Option<&ApprovalId>,
    limit: u32,
) -> Result<Vec<ApprovalRecord>, StoreError> {
    let mut s = Select::new(
        "SELECT doc FROM approvals WHERE tenant = $1",
        Param::Text(tenant.to_string()),
    );
    if let Some(status) = status {
        s.and_eq("status", Param::Text(status.as_str().to_owned()));
    }
    if let Some(before) = before {
        let b = s.param(Param::Text(before.to_string()));
        s.push(&format!(" AND id < {b}"));
    }
    let limit = s.param(Param::Int(i64::from(limit)));
    s.push(&format!(" ORDER BY id DESC LIMIT {limit}"));
    s.fetch_records(pool).await
}

/// Open approvals of `tenant` for one request digest.
pub(crate) async fn open_approvals(
    pool: &AnyPool,
    tenant: &TenantId,
    digest: &str,
) -> Result<Vec<ApprovalRecord>, StoreError> {
    let q = sqlx::query(
        "SELECT doc FROM approvals WHERE tenant = $1 AND digest = $2 \
         AND status IN ('pending', 'approved') ORDER BY id",
    )
    .bind(tenant.as_str())
    .bind(digest);
    fetch_records(pool, q).await
}

/// Open approvals of any tenant that expired at `now`.
pub(crate) async fn approvals_due(
    pool: &AnyPool,
    now: Timestamp,
    limit: u32,
) -> Result<Vec<ApprovalRecord>, StoreError> {
    let q = sqlx::query(
        "SELECT doc FROM approvals WHERE status IN ('pending', 'approved') AND expires_at <= $1 \
         ORDER BY expires_at, id LIMIT $2",
    )
    .bind(now.millis())
    .bind(i64::from(limit));
    fetch_records(pool, q).await
}

/// The last audit event's sequence number and hash.
pub(crate) async fn audit_head(pool: &AnyPool) -> Result<Option<(u64, String)>, StoreError> {
    let row = sqlx::query("SELECT doc FROM audit ORDER BY seq DESC LIMIT 1")
        .fetch_optional(pool)
        .await
        .map_err(backend)?;
    let event = row.map(|r| decode_audit(&r)).transpose()?;
    Ok(event.map(|e| (e.seq, e.hash)))
}

/// Up to `limit` audit events from `from` on, in order.
pub(crate) async fn audit_events(
    pool: &AnyPool,
    from: u64,
    limit: u32,
) -> Result<Vec<AuditEvent>, StoreError> {
    // Sequence numbers beyond the database's range cannot exist: start past the last one.
    let from = to_i64(from, "audit sequence number").unwrap_or(i64::MAX);
    let rows = sqlx::query("SELECT doc FROM audit WHERE seq >= $1 ORDER BY seq LIMIT $2")
        .bind(from)
        .bind(i64::from(limit))
        .fetch_all(pool)
        .await
        .map_err(backend)?;
    rows.iter().map(decode_audit).collect()
}

/// Decodes the audit event in the first column of `row`.
pub(crate) fn decode_audit(row: &AnyRow) -> Result<AuditEvent, StoreError> {
    decode_doc(row)
}

/// Decodes the record in the first column of `row`.
pub(crate) fn decode_doc<T: DeserializeOwned>(row: &AnyRow) -> Result<T, StoreError> {
    let doc: Vec<u8> = row.try_get(0).map_err(backend)?;
    decode_record(&doc)
}

/// Runs `q` and decodes the record of the row it returns, if any.
async fn fetch_record<T: DeserializeOwned>(
    pool: &AnyPool,
    q: AnyQuery<'_>,
) -> Result<Option<T>, StoreError> {
    let row = q.fetch_optional(pool).await.map_err(backend)?;
    row.as_ref().map(decode_doc).transpose()
}

/// Runs `q` and decodes the record of every row it returns.
async fn fetch_records<T: DeserializeOwned>(
    pool: &AnyPool,
    q: AnyQuery<'_>,
) -> Result<Vec<T>, StoreError> {
    let rows = q.fetch_all(pool).await.map_err(backend)?;
    rows.iter().map(decode_doc).collect()
}

/// The smallest string greater than every string that starts with `prefix`, if there is one.
fn prefix_successor(prefix: &str) -> Option<String> {
    let mut chars: Vec<char> = prefix.chars().collect();
    while let Some(last) = chars.pop() {
        let mut next = u32::from(last) + 1;
        if next == 0xD800 {
            next = 0xE000; // skip the surrogates, which are not chars
        }
        if let Some(next) = char::from_u32(next) {
            chars.push(next);
            return Some(chars.into_iter().collect());
        }
    }
    None
}

/// A value bound to a dynamically built query.
enum Param {
    Text(String),
    Int(i64),
}

/// A `SELECT` whose conditions depend on the request. Only placeholders (`$n`) and fixed column
/// names are ever added to its text; every value is bound.
struct Select {
    sql: String,
    params: Vec<Param>,
}

impl Select {
    /// Starts from `base`, whose only placeholder is `$1`, bound to `first`.
    fn new(base: &str, first: Param) -> Self {
        Self {
            sql: base.to_owned(),
            params: vec![first],
        }
    }

    /// Adds a parameter; returns its placeholder.
    fn param(&mut self, p: Param) -> String {
        self.params.push(p);
        format!("${}", self.params.len())
    }

    /// Appends SQL text.
    fn push(&mut self, sql: &str) {
        self.sql.push_str(sql);
    }

    /// Appends `AND column = <value>`.
    fn and_eq(&mut self, column: &'static str, value: Param) {
        let placeholder = self.param(value);
        self.sql.push_str(&format!(" AND {column} = {placeholder}"));
    }

    /// Runs the query and decodes the record of every row.
    async fn fetch_records<T: DeserializeOwned>(
        self,
        pool: &AnyPool,
    ) -> Result<Vec<T>, StoreError> {
        // The text holds only fixed SQL, column names and placeholders (see the type docs).
        let mut q = sqlx::query(sqlx::AssertSqlSafe(self.sql));
        for p in self.params {
            q = match p {
                Param::Text(t) => q.bind(t),
                Param::Int(i) => q.bind(i),
            };
        }
        fetch_records(pool, q).await
    }
}

#[cfg(test)]
mod tests {
    use super::prefix_successor;

    #[test]
    fn prefix_successor_bounds_the_prefix_range() {
        assert_eq!(prefix_successor("app/a").as_deref(), Some("app/b"));
        assert_eq!(prefix_successor("a\u{10FFFF}").as_deref(), Some("b"));
        assert_eq!(prefix_successor("\u{D7FF}").as_deref(), Some("\u{E000}"));
        assert_eq!(prefix_successor("\u{10FFFF}"), None);
        assert_eq!(prefix_successor(""), None);
    }
}
