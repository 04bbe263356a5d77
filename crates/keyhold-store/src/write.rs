//! [`commit`]: a [`WriteBatch`] applied in one transaction on the writer connection.
//!
//! Each write first probes the constraints it could violate (inside the transaction, so the
//! answer holds until commit) to report precisely which one failed; the database constraints
//! stay the authority, and a violation they report is classified by its error kind.

use keyhold_core::archive::ArchivedVersion;
use keyhold_core::audit::AuditEvent;
use keyhold_core::ids::{KeyId, TenantId};
use keyhold_core::model::{
    KeyRecord, KeyVersion, TenantRecord, TokenRecord, TrustAnchorRecord, RECORD_VERSION,
};
use keyhold_core::policy::{ApprovalRecord, GrantUses, PolicyVersion};
use keyhold_core::store::{encode_record, StoreError, Write, WriteBatch};
use sqlx::{AnyConnection, AnyPool, Row};

use crate::dialect::Dialect;
use crate::error::{backend, to_i64, write_error};
use crate::read::{decode_doc, AnyQuery};

/// Applies `batch` atomically and durably: all of it or, on the first failure, none of it.
pub(crate) async fn commit(
    dialect: Dialect,
    writer: &AnyPool,
    batch: WriteBatch,
) -> Result<(), StoreError> {
    if batch.0.is_empty() {
        return Ok(());
    }
    let destroys_material = batch.0.iter().any(|w| {
        matches!(
            w,
            Write::DestroyVersionMaterial { .. } | Write::ArchiveVersion(_)
        )
    });

    let mut tx = writer
        .begin_with(dialect.begin_write())
        .await
        .map_err(backend)?;
    let mut writes = batch.0.into_iter().peekable();
    while let Some(write) = writes.next() {
        let applied = match write {
            // A run of audit events (a group commit's) costs one head probe and one INSERT per
            // chunk instead of two statements per event.
            Write::AppendAudit(first) => {
                let mut events = vec![first];
                while let Some(Write::AppendAudit(_)) = writes.peek() {
                    if let Some(Write::AppendAudit(e)) = writes.next() {
                        events.push(e);
                    }
                }
                append_audit(&mut tx, &events).await
            }
            other => apply(&mut tx, other).await,
        };
        if let Err(e) = applied {
            // Dropping the transaction would roll it back as well; doing it here frees the
            // writer before the error travels up.
            if let Err(rollback) = tx.rollback().await {
                tracing::warn!(error = %rollback, "rollback of a failed batch failed");
            }
            return Err(e);
        }
    }
    tx.commit().await.map_err(backend)?;

    if destroys_material {
        // The batch is durable: a failure to scrub must not be reported as a failed commit.
        if let Err(e) = dialect.scrub_after_destroy(writer).await {
            tracing::warn!(error = %e, "could not scrub the database after destroying key material");
        }
    }
    Ok(())
}

/// Applies one write inside the open transaction.
async fn apply(conn: &mut AnyConnection, write: Write) -> Result<(), StoreError> {
    match write {
        Write::InsertSystem { name, value } => {
            sqlx::query("INSERT INTO system (name, value) VALUES ($1, $2)")
                .bind(name)
                .bind(value)
                .execute(&mut *conn)
                .await
                .map_err(|e| write_error(e, "system value"))?;
        }
        Write::UpdateSystem {
            name,
            value,
            expected,
        } => {
            let done = sqlx::query("UPDATE system SET value = $1 WHERE name = $2 AND value = $3")
                .bind(value)
                .bind(name.as_str())
                .bind(expected)
                .execute(&mut *conn)
                .await
                .map_err(backend)?;
            if done.rows_affected() == 0 {
                let exists = sqlx::query("SELECT 1 FROM system WHERE name = $1")
                    .bind(name.as_str())
                    .fetch_optional(&mut *conn)
                    .await
                    .map_err(backend)?;
                return Err(if exists.is_some() {
                    StoreError::Conflict
                } else {
                    StoreError::NotFound("system value")
                });
            }
        }
        Write::InsertTenant(tenant) => {
            sqlx::query("INSERT INTO tenants (id, doc) VALUES ($1, $2)")
                .bind(tenant.id.as_str())
                .bind(encode_record(&tenant))
                .execute(&mut *conn)
                .await
                .map_err(|e| write_error(e, "tenant"))?;
        }
        Write::UpdateTenant {
            record,
            expected_revision,
        } => update_tenant(conn, &record, expected_revision).await?,
        Write::ArchiveVersion(archived) => archive_version(conn, &archived).await?,
        Write::RecoverVersion(version) => recover_version(conn, &version).await?,
        Write::InsertKey(record) => insert_key(conn, &record).await?,
        Write::UpdateKey {
            record,
            expected_revision,
        } => update_key(conn, &record, expected_revision).await?,
        Write::InsertVersion(version) => {
            require_key(conn, &version.key_id, None).await?;
            sqlx::query("INSERT INTO key_versions (key_id, version, doc) VALUES ($1, $2, $3)")
                .bind(version.key_id.to_string())
                .bind(i64::from(version.version))
                .bind(encode_record(&version))
                .execute(&mut *conn)
                .await
                .map_err(|e| write_error(e, "key version"))?;
        }
        Write::DestroyVersionMaterial { key_id, version } => {
            destroy_material(conn, &key_id, version).await?
        }
        Write::InsertAlias(alias) => {
            require_key(conn, &alias.key_id, Some(&alias.tenant)).await?;
            sqlx::query("INSERT INTO aliases (tenant, name, key_id, doc) VALUES ($1, $2, $3, $4)")
                .bind(alias.tenant.as_str())
                .bind(alias.name.as_str())
                .bind(alias.key_id.to_string())
                .bind(encode_record(&alias))
                .execute(&mut *conn)
                .await
                .map_err(|e| write_error(e, "alias"))?;
        }
        Write::DeleteAlias { tenant, name } => {
            let done = sqlx::query("DELETE FROM aliases WHERE tenant = $1 AND name = $2")
                .bind(tenant.as_str())
                .bind(name.as_str())
                .execute(&mut *conn)
                .await
                .map_err(backend)?;
            if done.rows_affected() == 0 {
                return Err(StoreError::NotFound("alias"));
            }
        }
        Write::InsertToken(token) => {
            sqlx::query("INSERT INTO tokens (id, tenant, secret_hash, revision, doc) VALUES ($1, $2, $3, $4, $5)")
                .bind(token.id.to_string())
                .bind(token.tenant.as_str())
                .bind(token.secret_hash.as_str())
                .bind(to_i64(token.revision, "token revision")?)
                .bind(encode_record(&token))
                .execute(&mut *conn)
                .await
                .map_err(|e| write_error(e, "token"))?;
        }
        Write::UpdateToken {
            record,
            expected_revision,
        } => update_token(conn, &record, expected_revision).await?,
        Write::InsertGrant(grant) => {
            require_key(conn, &grant.key_id, Some(&grant.tenant)).await?;
            sqlx::query(
                "INSERT INTO grants (id, tenant, key_id, grantee, doc) VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(grant.id.to_string())
            .bind(grant.tenant.as_str())
            .bind(grant.key_id.to_string())
            .bind(grant.grantee.column())
            .bind(encode_record(&grant))
            .execute(&mut *conn)
            .await
            .map_err(|e| write_error(e, "grant"))?;
        }
        Write::DeleteGrant { tenant, id } => {
            let done = sqlx::query("DELETE FROM grants WHERE tenant = $1 AND id = $2")
                .bind(tenant.as_str())
                .bind(id.to_string())
                .execute(&mut *conn)
                .await
                .map_err(backend)?;
            if done.rows_affected() == 0 {
                return Err(StoreError::NotFound("grant"));
            }
        }
        Write::AppendAudit(event) => append_audit(conn, std::slice::from_ref(&event)).await?,
        Write::InsertClientCert(cert) => {
            sqlx::query(
                "INSERT INTO client_certs (fingerprint, tenant, revision, doc) VALUES ($1, $2, $3, $4)",
            )
            .bind(cert.fingerprint.as_str())
            .bind(cert.tenant.as_str())
            .bind(to_i64(cert.revision, "client certificate revision")?)
            .bind(encode_record(&cert))
            .execute(&mut *conn)
            .await
            .map_err(|e| write_error(e, "client certificate"))?;
        }
        Write::UpdateClientCert {
            record,
            expected_revision,
        } => {
            let done = sqlx::query(
                "UPDATE client_certs SET revision = $1, doc = $2 WHERE fingerprint = $3 AND tenant = $4 AND revision = $5",
            )
            .bind(to_i64(record.revision, "client certificate revision")?)
            .bind(encode_record(&record))
            .bind(record.fingerprint.as_str())
            .bind(record.tenant.as_str())
            .bind(to_i64(expected_revision, "client certificate revision")?)
            .execute(&mut *conn)
            .await
            .map_err(|e| write_error(e, "client certificate"))?;
            if done.rows_affected() == 0 {
                let exists = sqlx::query(
                    "SELECT 1 FROM client_certs WHERE fingerprint = $1 AND tenant = $2",
                )
                .bind(record.fingerprint.as_str())
                .bind(record.tenant.as_str())
                .fetch_optional(&mut *conn)
                .await
                .map_err(backend)?;
                return Err(if exists.is_some() {
                    StoreError::Conflict
                } else {
                    StoreError::NotFound("client certificate")
                });
            }
        }
        Write::InsertTrustAnchor(anchor) => insert_trust_anchor(conn, &anchor).await?,
        Write::UpdateTrustAnchor {
            record,
            expected_revision,
        } => update_trust_anchor(conn, &record, expected_revision).await?,
        Write::CountGrantUse {
            tenant,
            grant,
            limit,
        } => count_grant_use(conn, &tenant, &grant.to_string(), limit).await?,
        Write::PutGrantUses(uses) => put_grant_uses(conn, &uses).await?,
        Write::InsertPolicyVersion(version) => insert_policy_version(conn, &version).await?,
        Write::InsertApproval(approval) => {
            sqlx::query(
                "INSERT INTO approvals (id, tenant, status, digest, expires_at, revision, doc) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(approval.id.to_string())
            .bind(approval.tenant.as_str())
            .bind(approval.status.as_str())
            .bind(approval.request_digest.as_str())
            .bind(approval.expires_at.millis())
            .bind(to_i64(approval.revision, "approval revision")?)
            .bind(encode_record(&approval))
            .execute(&mut *conn)
            .await
            .map_err(|e| write_error(e, "approval"))?;
        }
        Write::UpdateApproval {
            record,
            expected_revision,
        } => update_approval(conn, &record, expected_revision).await?,
    }
    Ok(())
}

/// Counts one use of a grant if it exists and is below `limit`; `Conflict` otherwise.
async fn count_grant_use(
    conn: &mut AnyConnection,
    tenant: &TenantId,
    grant: &str,
    limit: u64,
) -> Result<(), StoreError> {
    let q = sqlx::query("SELECT 1 FROM grants WHERE id = $1 AND tenant = $2")
        .bind(grant)
        .bind(tenant.as_str());
    if !exists(conn, q).await? {
        return Err(StoreError::Conflict);
    }
    let limit = to_i64(limit, "grant use limit")?;
    let row = sqlx::query("SELECT uses FROM grant_uses WHERE grant_id = $1")
        .bind(grant)
        .fetch_optional(&mut *conn)
        .await
        .map_err(backend)?;
    let uses = match row {
        Some(r) => r.try_get::<i64, _>(0).map_err(backend)?,
        None => 0,
    };
    if uses >= limit {
        return Err(StoreError::Conflict);
    }
    let record = GrantUses {
        v: RECORD_VERSION,
        tenant: tenant.clone(),
        grant: grant
            .parse()
            .map_err(|_| StoreError::Corrupt("grant id".into()))?,
        uses: u64::try_from(uses + 1).unwrap_or(u64::MAX),
    };
    put_grant_uses(conn, &record).await
}

/// Sets a grant's use counter.
async fn put_grant_uses(conn: &mut AnyConnection, uses: &GrantUses) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO grant_uses (grant_id, tenant, uses, doc) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (grant_id) DO UPDATE SET tenant = excluded.tenant, uses = excluded.uses, doc = excluded.doc",
    )
    .bind(uses.grant.to_string())
    .bind(uses.tenant.as_str())
    .bind(to_i64(uses.uses, "grant uses")?)
    .bind(encode_record(uses))
    .execute(&mut *conn)
    .await
    .map_err(backend)?;
    Ok(())
}

/// Appends a policy version that follows the stored latest one; `Conflict` otherwise.
async fn insert_policy_version(
    conn: &mut AnyConnection,
    version: &PolicyVersion,
) -> Result<(), StoreError> {
    let subject = version.subject.as_text();
    let latest = sqlx::query(
        "SELECT version FROM policy_versions WHERE tenant = $1 AND subject = $2 \
         ORDER BY version DESC LIMIT 1",
    )
    .bind(version.tenant.as_str())
    .bind(subject.as_str())
    .fetch_optional(&mut *conn)
    .await
    .map_err(backend)?
    .map(|r| r.try_get::<i64, _>(0))
    .transpose()
    .map_err(backend)?
    .unwrap_or(0);
    if i64::from(version.version) != latest + 1 {
        return Err(StoreError::Conflict);
    }
    sqlx::query(
        "INSERT INTO policy_versions (tenant, subject, version, doc) VALUES ($1, $2, $3, $4)",
    )
    .bind(version.tenant.as_str())
    .bind(subject.as_str())
    .bind(i64::from(version.version))
    .bind(encode_record(version))
    .execute(&mut *conn)
    .await
    .map_err(|e| match write_error(e, "policy version") {
        StoreError::AlreadyExists(_) => StoreError::Conflict,
        other => other,
    })?;
    Ok(())
}

/// Replaces an approval whose stored revision is `expected_revision`.
async fn update_approval(
    conn: &mut AnyConnection,
    record: &ApprovalRecord,
    expected_revision: u64,
) -> Result<(), StoreError> {
    let done = sqlx::query(
        "UPDATE approvals SET status = $1, expires_at = $2, revision = $3, doc = $4 \
         WHERE id = $5 AND tenant = $6 AND revision = $7",
    )
    .bind(record.status.as_str())
    .bind(record.expires_at.millis())
    .bind(to_i64(record.revision, "approval revision")?)
    .bind(encode_record(record))
    .bind(record.id.to_string())
    .bind(record.tenant.as_str())
    .bind(to_i64(expected_revision, "approval revision")?)
    .execute(&mut *conn)
    .await
    .map_err(backend)?;
    if done.rows_affected() == 0 {
        let q = sqlx::query("SELECT 1 FROM approvals WHERE id = $1 AND tenant = $2")
            .bind(record.id.to_string())
            .bind(record.tenant.as_str());
        return Err(if exists(conn, q).await? {
            StoreError::Conflict
        } else {
            StoreError::NotFound("approval")
        });
    }
    Ok(())
}

/// Adds a trust anchor; its id, and its identity among anchors not removed, must be free.
async fn insert_trust_anchor(
    conn: &mut AnyConnection,
    anchor: &TrustAnchorRecord,
) -> Result<(), StoreError> {
    if !exists(
        conn,
        sqlx::query("SELECT 1 FROM tenants WHERE id = $1").bind(anchor.tenant.as_str()),
    )
    .await?
    {
        return Err(StoreError::NotFound("tenant"));
    }
    if anchor.removed_at.is_none()
        && exists(
            conn,
            sqlx::query("SELECT 1 FROM trust_anchors WHERE identity = $1 AND removed = 0")
                .bind(anchor.identity.as_str()),
        )
        .await?
    {
        return Err(StoreError::AlreadyExists("trust anchor"));
    }
    sqlx::query(
        "INSERT INTO trust_anchors (id, tenant, identity, removed, revision, doc) VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(anchor.id.to_string())
    .bind(anchor.tenant.as_str())
    .bind(anchor.identity.as_str())
    .bind(i64::from(anchor.removed_at.is_some()))
    .bind(to_i64(anchor.revision, "trust anchor revision")?)
    .bind(encode_record(anchor))
    .execute(&mut *conn)
    .await
    .map_err(|e| write_error(e, "trust anchor"))?;
    Ok(())
}

/// Replaces a trust anchor whose stored revision is `expected_revision`.
async fn update_trust_anchor(
    conn: &mut AnyConnection,
    record: &TrustAnchorRecord,
    expected_revision: u64,
) -> Result<(), StoreError> {
    let current = sqlx::query("SELECT revision FROM trust_anchors WHERE id = $1 AND tenant = $2")
        .bind(record.id.to_string())
        .bind(record.tenant.as_str())
        .fetch_optional(&mut *conn)
        .await
        .map_err(backend)?;
    let expected = to_i64(expected_revision, "trust anchor revision")?;
    match current {
        None => return Err(StoreError::NotFound("trust anchor")),
        Some(row) if row.try_get::<i64, _>(0).map_err(backend)? != expected => {
            return Err(StoreError::Conflict)
        }
        Some(_) => {}
    }
    if record.removed_at.is_none()
        && exists(
            conn,
            sqlx::query(
                "SELECT 1 FROM trust_anchors WHERE identity = $1 AND removed = 0 AND id <> $2",
            )
            .bind(record.identity.as_str())
            .bind(record.id.to_string()),
        )
        .await?
    {
        return Err(StoreError::AlreadyExists("trust anchor"));
    }
    sqlx::query(
        "UPDATE trust_anchors SET identity = $1, removed = $2, revision = $3, doc = $4 WHERE id = $5 AND revision = $6",
    )
    .bind(record.identity.as_str())
    .bind(i64::from(record.removed_at.is_some()))
    .bind(to_i64(record.revision, "trust anchor revision")?)
    .bind(encode_record(record))
    .bind(record.id.to_string())
    .bind(expected)
    .execute(&mut *conn)
    .await
    .map_err(|e| write_error(e, "trust anchor"))?;
    Ok(())
}

/// Inserts a key and its tag rows.
async fn insert_key(conn: &mut AnyConnection, record: &KeyRecord) -> Result<(), StoreError> {
    let id = record.id.to_string();
    let tenant = record.tenant.as_str();
    if exists(
        conn,
        sqlx::query("SELECT 1 FROM keys WHERE id = $1").bind(id.as_str()),
    )
    .await?
    {
        return Err(StoreError::AlreadyExists("key"));
    }
    check_key_uniques(conn, record, None).await?;
    sqlx::query(
        "INSERT INTO keys (id, tenant, name, idempotency_token, state, algorithm, next_due, revision, doc) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(id.as_str())
    .bind(tenant)
    .bind(record.name.as_ref().map(|n| n.as_str().to_owned()))
    .bind(record.idempotency.as_ref().map(|i| i.token.clone()))
    .bind(record.lifecycle.state.as_str())
    .bind(record.algorithm.as_str())
    .bind(record.next_due().map(|t| t.millis()))
    .bind(to_i64(record.revision, "key revision")?)
    .bind(encode_record(record))
    .execute(&mut *conn)
    .await
    .map_err(|e| write_error(e, "key"))?;
    insert_tags(conn, record).await
}

/// Replaces a key whose stored revision is `expected_revision`, and its tag rows.
async fn update_key(
    conn: &mut AnyConnection,
    record: &KeyRecord,
    expected_revision: u64,
) -> Result<(), StoreError> {
    let id = record.id.to_string();
    let tenant = record.tenant.as_str();
    let expected = to_i64(expected_revision, "key revision")?;
    let current = sqlx::query("SELECT revision FROM keys WHERE id = $1 AND tenant = $2")
        .bind(id.as_str())
        .bind(tenant)
        .fetch_optional(&mut *conn)
        .await
        .map_err(backend)?;
    match current {
        None => return Err(StoreError::NotFound("key")),
        Some(row) if row.try_get::<i64, _>(0).map_err(backend)? != expected => {
            return Err(StoreError::Conflict)
        }
        Some(_) => {}
    }
    check_key_uniques(conn, record, Some(&id)).await?;
    let done = sqlx::query(
        "UPDATE keys SET name = $1, idempotency_token = $2, state = $3, algorithm = $4, next_due = $5, \
         revision = $6, doc = $7 WHERE id = $8 AND tenant = $9 AND revision = $10",
    )
    .bind(record.name.as_ref().map(|n| n.as_str().to_owned()))
    .bind(record.idempotency.as_ref().map(|i| i.token.clone()))
    .bind(record.lifecycle.state.as_str())
    .bind(record.algorithm.as_str())
    .bind(record.next_due().map(|t| t.millis()))
    .bind(to_i64(record.revision, "key revision")?)
    .bind(encode_record(record))
    .bind(id.as_str())
    .bind(tenant)
    .bind(expected)
    .execute(&mut *conn)
    .await
    .map_err(|e| write_error(e, "key name"))?;
    if done.rows_affected() == 0 {
        return Err(StoreError::Conflict);
    }
    sqlx::query("DELETE FROM key_tags WHERE key_id = $1")
        .bind(id.as_str())
        .execute(&mut *conn)
        .await
        .map_err(backend)?;
    insert_tags(conn, record).await
}

/// Fails if another key of the tenant (not `own_id`) has the record's name or idempotency token.
async fn check_key_uniques(
    conn: &mut AnyConnection,
    record: &KeyRecord,
    own_id: Option<&str>,
) -> Result<(), StoreError> {
    let tenant = record.tenant.as_str();
    let own_id = own_id.unwrap_or("");
    if let Some(name) = &record.name {
        let q = sqlx::query("SELECT 1 FROM keys WHERE tenant = $1 AND name = $2 AND id <> $3")
            .bind(tenant)
            .bind(name.as_str())
            .bind(own_id);
        if exists(conn, q).await? {
            return Err(StoreError::AlreadyExists("key name"));
        }
    }
    if let Some(idempotency) = &record.idempotency {
        let q = sqlx::query(
            "SELECT 1 FROM keys WHERE tenant = $1 AND idempotency_token = $2 AND id <> $3",
        )
        .bind(tenant)
        .bind(idempotency.token.as_str())
        .bind(own_id);
        if exists(conn, q).await? {
            return Err(StoreError::AlreadyExists("idempotency token"));
        }
    }
    Ok(())
}

/// Writes one `key_tags` row per tag of the key.
async fn insert_tags(conn: &mut AnyConnection, record: &KeyRecord) -> Result<(), StoreError> {
    let id = record.id.to_string();
    for (tag, value) in &record.tags {
        sqlx::query("INSERT INTO key_tags (key_id, tag, value) VALUES ($1, $2, $3)")
            .bind(id.as_str())
            .bind(tag.as_str())
            .bind(value.as_str())
            .execute(&mut *conn)
            .await
            .map_err(backend)?;
    }
    Ok(())
}

/// Rewrites a version without its material. The row's old bytes are zeroed by the dialect's
/// secure-delete setting and scrubbed from the log after commit (see
/// [`Dialect::scrub_after_destroy`]).
async fn destroy_material(
    conn: &mut AnyConnection,
    key_id: &KeyId,
    version: u32,
) -> Result<(), StoreError> {
    let key_id = key_id.to_string();
    let row = sqlx::query("SELECT doc FROM key_versions WHERE key_id = $1 AND version = $2")
        .bind(key_id.as_str())
        .bind(i64::from(version))
        .fetch_optional(&mut *conn)
        .await
        .map_err(backend)?
        .ok_or(StoreError::NotFound("key version"))?;
    let mut record: KeyVersion = decode_doc(&row)?;
    record.wrapped = Vec::new();
    record.nonce = Vec::new();
    record.public_key = None;
    record.destroyed = true;
    sqlx::query("UPDATE key_versions SET doc = $1 WHERE key_id = $2 AND version = $3")
        .bind(encode_record(&record))
        .bind(key_id.as_str())
        .bind(i64::from(version))
        .execute(&mut *conn)
        .await
        .map_err(backend)?;
    Ok(())
}

/// Replaces a tenant whose stored revision is `expected_revision`.
async fn update_tenant(
    conn: &mut AnyConnection,
    record: &TenantRecord,
    expected_revision: u64,
) -> Result<(), StoreError> {
    let row = sqlx::query("SELECT doc FROM tenants WHERE id = $1")
        .bind(record.id.as_str())
        .fetch_optional(&mut *conn)
        .await
        .map_err(backend)?
        .ok_or(StoreError::NotFound("tenant"))?;
    let current: TenantRecord = decode_doc(&row)?;
    if current.revision != expected_revision {
        return Err(StoreError::Conflict);
    }
    sqlx::query("UPDATE tenants SET doc = $1 WHERE id = $2")
        .bind(encode_record(record))
        .bind(record.id.as_str())
        .execute(&mut *conn)
        .await
        .map_err(backend)?;
    Ok(())
}

/// Moves one version's material into the archive table.
async fn archive_version(
    conn: &mut AnyConnection,
    archived: &ArchivedVersion,
) -> Result<(), StoreError> {
    let key_id = archived.key_id.to_string();
    let version = i64::from(archived.version);
    let row = sqlx::query("SELECT doc FROM key_versions WHERE key_id = $1 AND version = $2")
        .bind(key_id.as_str())
        .bind(version)
        .fetch_optional(&mut *conn)
        .await
        .map_err(backend)?
        .ok_or(StoreError::NotFound("key version"))?;
    let mut record: KeyVersion = decode_doc(&row)?;
    if exists(
        conn,
        sqlx::query("SELECT 1 FROM archive WHERE key_id = $1 AND version = $2")
            .bind(key_id.as_str())
            .bind(version),
    )
    .await?
    {
        return Err(StoreError::AlreadyExists("archived version"));
    }
    sqlx::query("INSERT INTO archive (key_id, version, doc) VALUES ($1, $2, $3)")
        .bind(key_id.as_str())
        .bind(version)
        .bind(encode_record(archived))
        .execute(&mut *conn)
        .await
        .map_err(|e| write_error(e, "archived version"))?;
    record.wrapped = Vec::new();
    record.nonce = Vec::new();
    sqlx::query("UPDATE key_versions SET doc = $1 WHERE key_id = $2 AND version = $3")
        .bind(encode_record(&record))
        .bind(key_id.as_str())
        .bind(version)
        .execute(&mut *conn)
        .await
        .map_err(backend)?;
    Ok(())
}

/// Puts a version's material back and deletes its archived copy.
async fn recover_version(conn: &mut AnyConnection, record: &KeyVersion) -> Result<(), StoreError> {
    let key_id = record.key_id.to_string();
    let version = i64::from(record.version);
    let done = sqlx::query("DELETE FROM archive WHERE key_id = $1 AND version = $2")
        .bind(key_id.as_str())
        .bind(version)
        .execute(&mut *conn)
        .await
        .map_err(backend)?;
    if done.rows_affected() == 0 {
        return Err(StoreError::NotFound("archived version"));
    }
    let done = sqlx::query("UPDATE key_versions SET doc = $1 WHERE key_id = $2 AND version = $3")
        .bind(encode_record(record))
        .bind(key_id.as_str())
        .bind(version)
        .execute(&mut *conn)
        .await
        .map_err(backend)?;
    if done.rows_affected() == 0 {
        return Err(StoreError::NotFound("key version"));
    }
    Ok(())
}

/// Replaces a token whose stored revision is `expected_revision`.
async fn update_token(
    conn: &mut AnyConnection,
    record: &TokenRecord,
    expected_revision: u64,
) -> Result<(), StoreError> {
    let id = record.id.to_string();
    let tenant = record.tenant.as_str();
    let expected = to_i64(expected_revision, "token revision")?;
    let current = sqlx::query("SELECT revision FROM tokens WHERE id = $1 AND tenant = $2")
        .bind(id.as_str())
        .bind(tenant)
        .fetch_optional(&mut *conn)
        .await
        .map_err(backend)?;
    match current {
        None => return Err(StoreError::NotFound("token")),
        Some(row) if row.try_get::<i64, _>(0).map_err(backend)? != expected => {
            return Err(StoreError::Conflict)
        }
        Some(_) => {}
    }
    let done = sqlx::query(
        "UPDATE tokens SET secret_hash = $1, revision = $2, doc = $3 WHERE id = $4 AND tenant = $5 AND revision = $6",
    )
    .bind(record.secret_hash.as_str())
    .bind(to_i64(record.revision, "token revision")?)
    .bind(encode_record(record))
    .bind(id.as_str())
    .bind(tenant)
    .bind(expected)
    .execute(&mut *conn)
    .await
    .map_err(|e| write_error(e, "token"))?;
    if done.rows_affected() == 0 {
        return Err(StoreError::Conflict);
    }
    Ok(())
}

/// Appends an audit event whose sequence number follows the last one.
async fn append_audit(conn: &mut AnyConnection, events: &[AuditEvent]) -> Result<(), StoreError> {
    let head = sqlx::query("SELECT seq FROM audit ORDER BY seq DESC LIMIT 1")
        .fetch_optional(&mut *conn)
        .await
        .map_err(backend)?
        .map(|row| row.try_get::<i64, _>(0))
        .transpose()
        .map_err(backend)?
        .unwrap_or(0);
    // Each event must follow the stored head, then its predecessor in the run: no gap, no reuse.
    let mut expected = head;
    let mut rows = Vec::with_capacity(events.len());
    for event in events {
        let seq = to_i64(event.seq, "audit sequence number")?;
        if expected.checked_add(1) != Some(seq) {
            return Err(StoreError::Conflict);
        }
        expected = seq;
        rows.push((seq, encode_record(event)));
    }
    let mut rest = rows.as_slice();
    while !rest.is_empty() {
        // The largest power of two that fits: at most 7 statement shapes, each prepared once.
        let n = AUDIT_ROWS_PER_INSERT.min(1 << rest.len().ilog2());
        let (chunk, tail) = rest.split_at(n);
        rest = tail;
        let mut sql = String::from("INSERT INTO audit (seq, doc) VALUES ");
        for i in 0..chunk.len() {
            if i > 0 {
                sql.push_str(", ");
            }
            sql.push_str(&format!("(${}, ${})", 2 * i + 1, 2 * i + 2));
        }
        // Only placeholders are spliced in; the values are bound.
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for (seq, doc) in chunk {
            q = q.bind(*seq).bind(doc.as_slice());
        }
        q.execute(&mut *conn)
            .await
            .map_err(|e| match write_error(e, "audit event") {
                // Another writer took this sequence number first.
                StoreError::AlreadyExists(_) => StoreError::Conflict,
                other => other,
            })?;
    }
    Ok(())
}

/// Most rows of one multi-row audit INSERT (2 parameters each, well under SQLite's limit).
const AUDIT_ROWS_PER_INSERT: usize = 64;

/// Fails with `NotFound("key")` unless the key exists (in `tenant`, when given).
async fn require_key(
    conn: &mut AnyConnection,
    key_id: &KeyId,
    tenant: Option<&TenantId>,
) -> Result<(), StoreError> {
    let found = match tenant {
        Some(tenant) => {
            let q = sqlx::query("SELECT 1 FROM keys WHERE id = $1 AND tenant = $2")
                .bind(key_id.to_string())
                .bind(tenant.as_str());
            exists(conn, q).await?
        }
        None => {
            exists(
                conn,
                sqlx::query("SELECT 1 FROM keys WHERE id = $1").bind(key_id.to_string()),
            )
            .await?
        }
    };
    if found {
        Ok(())
    } else {
        Err(StoreError::NotFound("key"))
    }
}

/// Whether `q` returns a row.
async fn exists(conn: &mut AnyConnection, q: AnyQuery<'_>) -> Result<bool, StoreError> {
    let row = q.fetch_optional(&mut *conn).await.map_err(backend)?;
    Ok(row.is_some())
}
