//! [`commit`]: a [`WriteBatch`] applied in one transaction on the writer connection, on the
//! writer thread.
//!
//! Each write first probes the constraints it could violate (inside the transaction, so the
//! answer holds until commit) to report precisely which one failed; the database constraints
//! stay the authority, and a violation they report is classified by its error kind.

use crate::db::{query, write_error, Conn, Stmt};
use crate::dialect::Dialect;
use crate::error::{backend, to_i64, Fault};
use keyhold_core::archive::ArchivedVersion;
use keyhold_core::audit::{AuditEvent, GENESIS_HASH};
use keyhold_core::ids::{KeyId, TenantId};
use keyhold_core::model::{
    KeyRecord, KeyVersion, TenantRecord, TokenRecord, TrustAnchorRecord, RECORD_VERSION,
};
use keyhold_core::policy::{ApprovalRecord, GrantUses, PolicyVersion};
use keyhold_core::store::{decode_record, encode_record, Insert, StoreError, Write, WriteBatch};

/// The audit chain's head as the writer last committed it: its sequence number and hash.
pub(crate) type Head = (u64, String);

/// Applies `batches` in one transaction with one fsync, each atomically on its own: a batch
/// that fails leaves nothing and does not fail the others (it runs inside a savepoint). Audit
/// drafts are sealed after the stored chain head in the order of the batches, only for the
/// batches that apply. Returns one result per batch, in order. Runs on the writer thread (see
/// [`crate::writer`]); `head` caches the chain head between transactions.
pub(crate) fn commit_group(
    conn: &Conn,
    head: &mut Option<Head>,
    batches: Vec<WriteBatch>,
) -> Vec<Result<(), StoreError>> {
    let n = batches.len();
    match group_transaction(conn, head, batches) {
        Ok(results) => results,
        Err(e) => {
            // Nothing of the group was committed.
            if !conn.raw().is_autocommit() {
                if let Err(rollback) = conn.control("ROLLBACK") {
                    tracing::warn!(error = %rollback, "rollback of a failed group failed");
                }
            }
            *head = None;
            let first = std::iter::once(e);
            let rest = std::iter::repeat_with(|| backend(Fault::GroupFailed));
            first.chain(rest).take(n).map(Err).collect()
        }
    }
}

/// The transaction of [`commit_group`]; an `Err` means the whole group failed and the
/// transaction may still be open.
fn group_transaction(
    conn: &Conn,
    head: &mut Option<Head>,
    batches: Vec<WriteBatch>,
) -> Result<Vec<Result<(), StoreError>>, StoreError> {
    let alone = batches.len() == 1;
    conn.control(Dialect::Sqlite.begin_write())
        .map_err(backend)?;
    let mut chain = stored_head(conn, head.take())?;
    let mut results = Vec::with_capacity(batches.len());
    let mut events = Vec::new();
    let mut destroys_material = false;
    for batch in batches {
        let mut drafts = Vec::new();
        let mut writes = Vec::with_capacity(batch.0.len());
        for w in batch.0 {
            match w {
                Write::Audit(draft) => drafts.push(draft),
                other => writes.push(other),
            }
        }
        let destroys = writes.iter().any(|w| {
            matches!(
                w,
                Write::DestroyVersionMaterial { .. }
                    | Write::ArchiveVersion(_)
                    | Write::InsertIfAbsent(Insert::Archived(_))
            )
        });
        let applied = if writes.is_empty() {
            Ok(())
        } else if alone {
            writes.into_iter().try_for_each(|w| apply(conn, w))
        } else {
            in_savepoint(conn, writes)?
        };
        if applied.is_ok() {
            destroys_material |= destroys;
            for draft in drafts {
                let sealed = draft.seal(chain.0, &chain.1);
                events.push((to_i64(sealed.seq, "audit sequence number")?, sealed.doc));
                chain = (sealed.seq, sealed.hash);
            }
        } else if alone {
            // Some I/O errors end the transaction by themselves.
            if !conn.raw().is_autocommit() {
                conn.control("ROLLBACK").map_err(backend)?;
            }
            *head = Some(chain);
            return Ok(vec![applied]);
        }
        results.push(applied);
    }
    append_audit(conn, &events)?;
    conn.control("COMMIT").map_err(backend)?;
    *head = Some(chain);

    if destroys_material {
        // The batch is durable: a failure to scrub must not be reported as a failed commit.
        if let Err(e) = Dialect::Sqlite.scrub_after_destroy(conn) {
            tracing::warn!(error = %e, "could not scrub the database after destroying key material");
        }
    }
    Ok(results)
}

/// Applies `writes` inside a savepoint of the open transaction: all of them, or none if one
/// fails (the inner result). The outer `Err` means the transaction itself failed (SQLite rolls
/// a whole transaction back on some I/O errors), which fails the group.
fn in_savepoint(conn: &Conn, writes: Vec<Write>) -> Result<Result<(), StoreError>, StoreError> {
    conn.control("SAVEPOINT batch").map_err(backend)?;
    let applied = writes.into_iter().try_for_each(|w| apply(conn, w));
    if applied.is_err() {
        if conn.raw().is_autocommit() {
            return Err(applied.err().unwrap_or_else(|| backend(Fault::GroupFailed)));
        }
        conn.control("ROLLBACK TO batch").map_err(backend)?;
    }
    conn.control("RELEASE batch").map_err(backend)?;
    Ok(applied)
}

/// The chain head inside the open transaction: the cached one if the stored sequence number
/// still matches (nothing else wrote to the database since), read from the last event otherwise.
///
/// When the stored chain ends *before* the head this writer committed, events it wrote were
/// deleted behind its back. The chain then goes on after the committed head, not after the cut:
/// reusing the deleted sequence numbers would hide the deletion, while a gap is what
/// `audit verify` reports.
fn stored_head(conn: &Conn, cached: Option<Head>) -> Result<Head, StoreError> {
    let last = query("SELECT seq FROM audit ORDER BY seq DESC LIMIT 1")
        .fetch_optional(conn)
        .map_err(backend)?
        .map(|row| row.try_get::<i64>(0))
        .transpose()
        .map_err(backend)?;
    let seq = match last {
        Some(last) => {
            u64::try_from(last).map_err(|_| backend(Fault::OutOfRange("audit sequence number")))?
        }
        None => 0,
    };
    if let Some(head) = cached {
        if head.0 > seq {
            tracing::error!(
                committed = head.0,
                stored = seq,
                "audit events this server committed are missing from the database; the chain goes on after the committed head"
            );
        }
        if head.0 >= seq {
            return Ok(head);
        }
    }
    let Some(last) = last else {
        return Ok((0, GENESIS_HASH.to_owned()));
    };
    let row = query("SELECT doc FROM audit WHERE seq = $1")
        .bind(last)
        .fetch_optional(conn)
        .map_err(backend)?
        .ok_or_else(|| StoreError::Corrupt("the last audit event vanished".into()))?;
    let event: AuditEvent = decode_record(row.doc()?)?;
    Ok((event.seq, event.hash))
}

/// Applies one write inside the open transaction.
fn apply(conn: &Conn, write: Write) -> Result<(), StoreError> {
    match write {
        Write::InsertSystem { name, value } => {
            query("INSERT INTO system (name, value) VALUES ($1, $2)")
                .bind(name)
                .bind(value)
                .execute(conn)
                .map_err(|e| write_error(e, "system value"))?;
        }
        Write::UpdateSystem {
            name,
            value,
            expected,
        } => {
            let done = query("UPDATE system SET value = $1 WHERE name = $2 AND value = $3")
                .bind(value)
                .bind(name.as_str())
                .bind(expected)
                .execute(conn)
                .map_err(backend)?;
            if done.rows_affected() == 0 {
                let exists = query("SELECT 1 FROM system WHERE name = $1")
                    .bind(name.as_str())
                    .fetch_optional(conn)
                    .map_err(backend)?;
                return Err(if exists.is_some() {
                    StoreError::Conflict
                } else {
                    StoreError::NotFound("system value")
                });
            }
        }
        Write::DeleteSystem { name, expected } => {
            let done = query("DELETE FROM system WHERE name = $1 AND value = $2")
                .bind(name.as_str())
                .bind(expected)
                .execute(conn)
                .map_err(backend)?;
            if done.rows_affected() == 0 {
                let q = query("SELECT 1 FROM system WHERE name = $1").bind(name.as_str());
                return Err(if exists(conn, q)? {
                    StoreError::Conflict
                } else {
                    StoreError::NotFound("system value")
                });
            }
        }
        Write::InsertIfAbsent(insert) => {
            if !stored(conn, &insert)? {
                apply(conn, insert.into_write())?;
            }
        }
        Write::InsertTenant(tenant) => {
            query("INSERT INTO tenants (id, doc) VALUES ($1, $2)")
                .bind(tenant.id.as_str())
                .bind(encode_record(&tenant))
                .execute(conn)
                .map_err(|e| write_error(e, "tenant"))?;
        }
        Write::UpdateTenant {
            record,
            expected_revision,
        } => update_tenant(conn, &record, expected_revision)?,
        Write::ArchiveVersion(archived) => archive_version(conn, &archived)?,
        Write::RecoverVersion(version) => recover_version(conn, &version)?,
        Write::InsertKey(record) => insert_key(conn, &record)?,
        Write::UpdateKey {
            record,
            expected_revision,
        } => update_key(conn, &record, expected_revision)?,
        Write::InsertVersion(version) => {
            require_key(conn, &version.key_id, None)?;
            query("INSERT INTO key_versions (key_id, version, doc) VALUES ($1, $2, $3)")
                .bind(version.key_id.to_string())
                .bind(i64::from(version.version))
                .bind(encode_record(&version))
                .execute(conn)
                .map_err(|e| write_error(e, "key version"))?;
        }
        Write::DestroyVersionMaterial { key_id, version } => {
            destroy_material(conn, &key_id, version)?
        }
        Write::InsertAlias(alias) => {
            require_key(conn, &alias.key_id, Some(&alias.tenant))?;
            query("INSERT INTO aliases (tenant, name, key_id, doc) VALUES ($1, $2, $3, $4)")
                .bind(alias.tenant.as_str())
                .bind(alias.name.as_str())
                .bind(alias.key_id.to_string())
                .bind(encode_record(&alias))
                .execute(conn)
                .map_err(|e| write_error(e, "alias"))?;
        }
        Write::DeleteAlias { tenant, name } => {
            let done = query("DELETE FROM aliases WHERE tenant = $1 AND name = $2")
                .bind(tenant.as_str())
                .bind(name.as_str())
                .execute(conn)
                .map_err(backend)?;
            if done.rows_affected() == 0 {
                return Err(StoreError::NotFound("alias"));
            }
        }
        Write::InsertToken(token) => {
            query("INSERT INTO tokens (id, tenant, secret_hash, revision, doc) VALUES ($1, $2, $3, $4, $5)")
                .bind(token.id.to_string())
                .bind(token.tenant.as_str())
                .bind(token.secret_hash.as_str())
                .bind(to_i64(token.revision, "token revision")?)
                .bind(encode_record(&token))
                .execute(conn)
                .map_err(|e| write_error(e, "token"))?;
        }
        Write::UpdateToken {
            record,
            expected_revision,
        } => update_token(conn, &record, expected_revision)?,
        Write::InsertGrant(grant) => {
            require_key(conn, &grant.key_id, Some(&grant.tenant))?;
            query(
                "INSERT INTO grants (id, tenant, key_id, grantee, doc) VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(grant.id.to_string())
            .bind(grant.tenant.as_str())
            .bind(grant.key_id.to_string())
            .bind(grant.grantee.column())
            .bind(encode_record(&grant))
            .execute(conn)
            .map_err(|e| write_error(e, "grant"))?;
        }
        Write::DeleteGrant { tenant, id } => {
            let done = query("DELETE FROM grants WHERE tenant = $1 AND id = $2")
                .bind(tenant.as_str())
                .bind(id.to_string())
                .execute(conn)
                .map_err(backend)?;
            if done.rows_affected() == 0 {
                return Err(StoreError::NotFound("grant"));
            }
        }
        // Sealed and appended by the group, after the batch's other writes applied.
        Write::Audit(_) => {
            return Err(StoreError::Corrupt("an audit draft outside a group".into()))
        }
        Write::InsertClientCert(cert) => {
            query(
                "INSERT INTO client_certs (fingerprint, tenant, revision, doc) VALUES ($1, $2, $3, $4)",
            )
            .bind(cert.fingerprint.as_str())
            .bind(cert.tenant.as_str())
            .bind(to_i64(cert.revision, "client certificate revision")?)
            .bind(encode_record(&cert))
            .execute(conn)
            .map_err(|e| write_error(e, "client certificate"))?;
        }
        Write::UpdateClientCert {
            record,
            expected_revision,
        } => {
            let done = query(
                "UPDATE client_certs SET revision = $1, doc = $2 WHERE fingerprint = $3 AND tenant = $4 AND revision = $5",
            )
            .bind(to_i64(record.revision, "client certificate revision")?)
            .bind(encode_record(&record))
            .bind(record.fingerprint.as_str())
            .bind(record.tenant.as_str())
            .bind(to_i64(expected_revision, "client certificate revision")?)
            .execute(conn)
            .map_err(|e| write_error(e, "client certificate"))?;
            if done.rows_affected() == 0 {
                let exists =
                    query("SELECT 1 FROM client_certs WHERE fingerprint = $1 AND tenant = $2")
                        .bind(record.fingerprint.as_str())
                        .bind(record.tenant.as_str())
                        .fetch_optional(conn)
                        .map_err(backend)?;
                return Err(if exists.is_some() {
                    StoreError::Conflict
                } else {
                    StoreError::NotFound("client certificate")
                });
            }
        }
        Write::InsertTrustAnchor(anchor) => insert_trust_anchor(conn, &anchor)?,
        Write::UpdateTrustAnchor {
            record,
            expected_revision,
        } => update_trust_anchor(conn, &record, expected_revision)?,
        Write::CountGrantUse {
            tenant,
            grant,
            limit,
        } => count_grant_use(conn, &tenant, &grant.to_string(), limit)?,
        Write::PutGrantUses(uses) => put_grant_uses(conn, &uses)?,
        Write::InsertPolicyVersion(version) => insert_policy_version(conn, &version)?,
        Write::InsertApproval(approval) => {
            query(
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
            .execute(conn)
            .map_err(|e| write_error(e, "approval"))?;
        }
        Write::UpdateApproval {
            record,
            expected_revision,
        } => update_approval(conn, &record, expected_revision)?,
    }
    Ok(())
}

/// Whether the record of `insert` is stored already, by its identity (see [`Insert`]).
fn stored(conn: &Conn, insert: &Insert) -> Result<bool, StoreError> {
    let q = match insert {
        Insert::Key(k) => query("SELECT 1 FROM keys WHERE id = $1").bind(k.id.to_string()),
        Insert::Version(v) => {
            query("SELECT 1 FROM key_versions WHERE key_id = $1 AND version = $2")
                .bind(v.key_id.to_string())
                .bind(i64::from(v.version))
        }
        Insert::Archived(a) => query("SELECT 1 FROM archive WHERE key_id = $1 AND version = $2")
            .bind(a.key_id.to_string())
            .bind(i64::from(a.version)),
        Insert::Alias(a) => {
            query("SELECT 1 FROM aliases WHERE tenant = $1 AND name = $2 AND key_id = $3")
                .bind(a.tenant.as_str())
                .bind(a.name.as_str())
                .bind(a.key_id.to_string())
        }
        Insert::Grant(g) => query("SELECT 1 FROM grants WHERE id = $1").bind(g.id.to_string()),
        Insert::PolicyVersion(p) => query(
            "SELECT 1 FROM policy_versions WHERE tenant = $1 AND subject = $2 AND version = $3",
        )
        .bind(p.tenant.as_str())
        .bind(p.subject.as_text())
        .bind(i64::from(p.version)),
        Insert::Approval(a) => {
            query("SELECT 1 FROM approvals WHERE id = $1").bind(a.id.to_string())
        }
    };
    exists(conn, q)
}

/// Counts one use of a grant if it exists and is below `limit`; `Conflict` otherwise.
fn count_grant_use(
    conn: &Conn,
    tenant: &TenantId,
    grant: &str,
    limit: u64,
) -> Result<(), StoreError> {
    let q = query("SELECT 1 FROM grants WHERE id = $1 AND tenant = $2")
        .bind(grant)
        .bind(tenant.as_str());
    if !exists(conn, q)? {
        return Err(StoreError::Conflict);
    }
    let limit = to_i64(limit, "grant use limit")?;
    let row = query("SELECT uses FROM grant_uses WHERE grant_id = $1")
        .bind(grant)
        .fetch_optional(conn)
        .map_err(backend)?;
    let uses = match row {
        Some(r) => r.try_get::<i64>(0).map_err(backend)?,
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
    put_grant_uses(conn, &record)
}

/// Sets a grant's use counter.
fn put_grant_uses(conn: &Conn, uses: &GrantUses) -> Result<(), StoreError> {
    query(
        "INSERT INTO grant_uses (grant_id, tenant, uses, doc) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (grant_id) DO UPDATE SET tenant = excluded.tenant, uses = excluded.uses, doc = excluded.doc",
    )
    .bind(uses.grant.to_string())
    .bind(uses.tenant.as_str())
    .bind(to_i64(uses.uses, "grant uses")?)
    .bind(encode_record(uses))
    .execute(conn)
    .map_err(backend)?;
    Ok(())
}

/// Appends a policy version that follows the stored latest one; `Conflict` otherwise.
fn insert_policy_version(conn: &Conn, version: &PolicyVersion) -> Result<(), StoreError> {
    let subject = version.subject.as_text();
    let latest = query(
        "SELECT version FROM policy_versions WHERE tenant = $1 AND subject = $2 \
         ORDER BY version DESC LIMIT 1",
    )
    .bind(version.tenant.as_str())
    .bind(subject.as_str())
    .fetch_optional(conn)
    .map_err(backend)?
    .map(|r| r.try_get::<i64>(0))
    .transpose()
    .map_err(backend)?
    .unwrap_or(0);
    if i64::from(version.version) != latest + 1 {
        return Err(StoreError::Conflict);
    }
    query("INSERT INTO policy_versions (tenant, subject, version, doc) VALUES ($1, $2, $3, $4)")
        .bind(version.tenant.as_str())
        .bind(subject.as_str())
        .bind(i64::from(version.version))
        .bind(encode_record(version))
        .execute(conn)
        .map_err(|e| match write_error(e, "policy version") {
            StoreError::AlreadyExists(_) => StoreError::Conflict,
            other => other,
        })?;
    Ok(())
}

/// Replaces an approval whose stored revision is `expected_revision`.
fn update_approval(
    conn: &Conn,
    record: &ApprovalRecord,
    expected_revision: u64,
) -> Result<(), StoreError> {
    let done = query(
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
    .execute(conn)
    .map_err(backend)?;
    if done.rows_affected() == 0 {
        let q = query("SELECT 1 FROM approvals WHERE id = $1 AND tenant = $2")
            .bind(record.id.to_string())
            .bind(record.tenant.as_str());
        return Err(if exists(conn, q)? {
            StoreError::Conflict
        } else {
            StoreError::NotFound("approval")
        });
    }
    Ok(())
}

/// Adds a trust anchor; its id, and its identity among anchors not removed, must be free.
fn insert_trust_anchor(conn: &Conn, anchor: &TrustAnchorRecord) -> Result<(), StoreError> {
    if !exists(
        conn,
        query("SELECT 1 FROM tenants WHERE id = $1").bind(anchor.tenant.as_str()),
    )? {
        return Err(StoreError::NotFound("tenant"));
    }
    if anchor.removed_at.is_none()
        && exists(
            conn,
            query("SELECT 1 FROM trust_anchors WHERE identity = $1 AND removed = 0")
                .bind(anchor.identity.as_str()),
        )?
    {
        return Err(StoreError::AlreadyExists("trust anchor"));
    }
    query(
        "INSERT INTO trust_anchors (id, tenant, identity, removed, revision, doc) VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(anchor.id.to_string())
    .bind(anchor.tenant.as_str())
    .bind(anchor.identity.as_str())
    .bind(i64::from(anchor.removed_at.is_some()))
    .bind(to_i64(anchor.revision, "trust anchor revision")?)
    .bind(encode_record(anchor))
    .execute(conn)
    .map_err(|e| write_error(e, "trust anchor"))?;
    Ok(())
}

/// Replaces a trust anchor whose stored revision is `expected_revision`.
fn update_trust_anchor(
    conn: &Conn,
    record: &TrustAnchorRecord,
    expected_revision: u64,
) -> Result<(), StoreError> {
    let current = query("SELECT revision FROM trust_anchors WHERE id = $1 AND tenant = $2")
        .bind(record.id.to_string())
        .bind(record.tenant.as_str())
        .fetch_optional(conn)
        .map_err(backend)?;
    let expected = to_i64(expected_revision, "trust anchor revision")?;
    match current {
        None => return Err(StoreError::NotFound("trust anchor")),
        Some(row) if row.try_get::<i64>(0).map_err(backend)? != expected => {
            return Err(StoreError::Conflict)
        }
        Some(_) => {}
    }
    if record.removed_at.is_none()
        && exists(
            conn,
            query("SELECT 1 FROM trust_anchors WHERE identity = $1 AND removed = 0 AND id <> $2")
                .bind(record.identity.as_str())
                .bind(record.id.to_string()),
        )?
    {
        return Err(StoreError::AlreadyExists("trust anchor"));
    }
    query(
        "UPDATE trust_anchors SET identity = $1, removed = $2, revision = $3, doc = $4 WHERE id = $5 AND revision = $6",
    )
    .bind(record.identity.as_str())
    .bind(i64::from(record.removed_at.is_some()))
    .bind(to_i64(record.revision, "trust anchor revision")?)
    .bind(encode_record(record))
    .bind(record.id.to_string())
    .bind(expected)
    .execute(conn)
    .map_err(|e| write_error(e, "trust anchor"))?;
    Ok(())
}

/// Inserts a key and its tag rows.
fn insert_key(conn: &Conn, record: &KeyRecord) -> Result<(), StoreError> {
    let id = record.id.to_string();
    let tenant = record.tenant.as_str();
    if exists(
        conn,
        query("SELECT 1 FROM keys WHERE id = $1").bind(id.as_str()),
    )? {
        return Err(StoreError::AlreadyExists("key"));
    }
    check_key_uniques(conn, record, None)?;
    query(
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
    .execute(conn)
    .map_err(|e| write_error(e, "key"))?;
    insert_tags(conn, record)?;
    insert_labels(conn, record)
}

/// Replaces a key whose stored revision is `expected_revision`, and its tag rows.
fn update_key(conn: &Conn, record: &KeyRecord, expected_revision: u64) -> Result<(), StoreError> {
    let id = record.id.to_string();
    let tenant = record.tenant.as_str();
    let expected = to_i64(expected_revision, "key revision")?;
    let current = query("SELECT revision FROM keys WHERE id = $1 AND tenant = $2")
        .bind(id.as_str())
        .bind(tenant)
        .fetch_optional(conn)
        .map_err(backend)?;
    match current {
        None => return Err(StoreError::NotFound("key")),
        Some(row) if row.try_get::<i64>(0).map_err(backend)? != expected => {
            return Err(StoreError::Conflict)
        }
        Some(_) => {}
    }
    check_key_uniques(conn, record, Some(&id))?;
    let done = query(
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
    .execute(conn)
    .map_err(|e| write_error(e, "key name"))?;
    if done.rows_affected() == 0 {
        return Err(StoreError::Conflict);
    }
    query("DELETE FROM key_tags WHERE key_id = $1")
        .bind(id.as_str())
        .execute(conn)
        .map_err(backend)?;
    insert_tags(conn, record)?;
    query("DELETE FROM key_labels WHERE key_id = $1")
        .bind(id.as_str())
        .execute(conn)
        .map_err(backend)?;
    insert_labels(conn, record)
}

/// Fails if another key of the tenant (not `own_id`) has the record's name or idempotency token.
fn check_key_uniques(
    conn: &Conn,
    record: &KeyRecord,
    own_id: Option<&str>,
) -> Result<(), StoreError> {
    let tenant = record.tenant.as_str();
    let own_id = own_id.unwrap_or("");
    if let Some(name) = &record.name {
        let q = query("SELECT 1 FROM keys WHERE tenant = $1 AND name = $2 AND id <> $3")
            .bind(tenant)
            .bind(name.as_str())
            .bind(own_id);
        if exists(conn, q)? {
            return Err(StoreError::AlreadyExists("key name"));
        }
    }
    if let Some(idempotency) = &record.idempotency {
        let q =
            query("SELECT 1 FROM keys WHERE tenant = $1 AND idempotency_token = $2 AND id <> $3")
                .bind(tenant)
                .bind(idempotency.token.as_str())
                .bind(own_id);
        if exists(conn, q)? {
            return Err(StoreError::AlreadyExists("idempotency token"));
        }
    }
    Ok(())
}

/// Writes one `key_tags` row per tag of the key.
fn insert_tags(conn: &Conn, record: &KeyRecord) -> Result<(), StoreError> {
    let id = record.id.to_string();
    for (tag, value) in &record.tags {
        query("INSERT INTO key_tags (key_id, tag, value) VALUES ($1, $2, $3)")
            .bind(id.as_str())
            .bind(tag.as_str())
            .bind(value.as_str())
            .execute(conn)
            .map_err(backend)?;
    }
    Ok(())
}

/// Writes one `key_labels` row per label of the key (a repeated label once).
fn insert_labels(conn: &Conn, record: &KeyRecord) -> Result<(), StoreError> {
    let id = record.id.to_string();
    for (i, label) in record.labels.iter().enumerate() {
        if record.labels[..i].contains(label) {
            continue;
        }
        query("INSERT INTO key_labels (key_id, label) VALUES ($1, $2)")
            .bind(id.as_str())
            .bind(label.as_str())
            .execute(conn)
            .map_err(backend)?;
    }
    Ok(())
}

/// Rewrites a version without its material. The row's old bytes are zeroed by the dialect's
/// secure-delete setting and scrubbed from the log after commit (see
/// [`Dialect::scrub_after_destroy`]).
fn destroy_material(conn: &Conn, key_id: &KeyId, version: u32) -> Result<(), StoreError> {
    let key_id = key_id.to_string();
    let row = query("SELECT doc FROM key_versions WHERE key_id = $1 AND version = $2")
        .bind(key_id.as_str())
        .bind(i64::from(version))
        .fetch_optional(conn)
        .map_err(backend)?
        .ok_or(StoreError::NotFound("key version"))?;
    let mut record: KeyVersion = decode_record(row.doc()?)?;
    record.wrapped = Vec::new();
    record.nonce = Vec::new();
    record.public_key = None;
    record.destroyed = true;
    query("UPDATE key_versions SET doc = $1 WHERE key_id = $2 AND version = $3")
        .bind(encode_record(&record))
        .bind(key_id.as_str())
        .bind(i64::from(version))
        .execute(conn)
        .map_err(backend)?;
    Ok(())
}

/// Replaces a tenant whose stored revision is `expected_revision`.
fn update_tenant(
    conn: &Conn,
    record: &TenantRecord,
    expected_revision: u64,
) -> Result<(), StoreError> {
    let row = query("SELECT doc FROM tenants WHERE id = $1")
        .bind(record.id.as_str())
        .fetch_optional(conn)
        .map_err(backend)?
        .ok_or(StoreError::NotFound("tenant"))?;
    let current: TenantRecord = decode_record(row.doc()?)?;
    if current.revision != expected_revision {
        return Err(StoreError::Conflict);
    }
    query("UPDATE tenants SET doc = $1 WHERE id = $2")
        .bind(encode_record(record))
        .bind(record.id.as_str())
        .execute(conn)
        .map_err(backend)?;
    Ok(())
}

/// Moves one version's material into the archive table.
fn archive_version(conn: &Conn, archived: &ArchivedVersion) -> Result<(), StoreError> {
    let key_id = archived.key_id.to_string();
    let version = i64::from(archived.version);
    let row = query("SELECT doc FROM key_versions WHERE key_id = $1 AND version = $2")
        .bind(key_id.as_str())
        .bind(version)
        .fetch_optional(conn)
        .map_err(backend)?
        .ok_or(StoreError::NotFound("key version"))?;
    let mut record: KeyVersion = decode_record(row.doc()?)?;
    if exists(
        conn,
        query("SELECT 1 FROM archive WHERE key_id = $1 AND version = $2")
            .bind(key_id.as_str())
            .bind(version),
    )? {
        return Err(StoreError::AlreadyExists("archived version"));
    }
    query("INSERT INTO archive (key_id, version, doc) VALUES ($1, $2, $3)")
        .bind(key_id.as_str())
        .bind(version)
        .bind(encode_record(archived))
        .execute(conn)
        .map_err(|e| write_error(e, "archived version"))?;
    record.wrapped = Vec::new();
    record.nonce = Vec::new();
    query("UPDATE key_versions SET doc = $1 WHERE key_id = $2 AND version = $3")
        .bind(encode_record(&record))
        .bind(key_id.as_str())
        .bind(version)
        .execute(conn)
        .map_err(backend)?;
    Ok(())
}

/// Puts a version's material back and deletes its archived copy.
fn recover_version(conn: &Conn, record: &KeyVersion) -> Result<(), StoreError> {
    let key_id = record.key_id.to_string();
    let version = i64::from(record.version);
    let done = query("DELETE FROM archive WHERE key_id = $1 AND version = $2")
        .bind(key_id.as_str())
        .bind(version)
        .execute(conn)
        .map_err(backend)?;
    if done.rows_affected() == 0 {
        return Err(StoreError::NotFound("archived version"));
    }
    let done = query("UPDATE key_versions SET doc = $1 WHERE key_id = $2 AND version = $3")
        .bind(encode_record(record))
        .bind(key_id.as_str())
        .bind(version)
        .execute(conn)
        .map_err(backend)?;
    if done.rows_affected() == 0 {
        return Err(StoreError::NotFound("key version"));
    }
    Ok(())
}

/// Replaces a token whose stored revision is `expected_revision`.
fn update_token(
    conn: &Conn,
    record: &TokenRecord,
    expected_revision: u64,
) -> Result<(), StoreError> {
    let id = record.id.to_string();
    let tenant = record.tenant.as_str();
    let expected = to_i64(expected_revision, "token revision")?;
    let current = query("SELECT revision FROM tokens WHERE id = $1 AND tenant = $2")
        .bind(id.as_str())
        .bind(tenant)
        .fetch_optional(conn)
        .map_err(backend)?;
    match current {
        None => return Err(StoreError::NotFound("token")),
        Some(row) if row.try_get::<i64>(0).map_err(backend)? != expected => {
            return Err(StoreError::Conflict)
        }
        Some(_) => {}
    }
    let done = query(
        "UPDATE tokens SET secret_hash = $1, revision = $2, doc = $3 WHERE id = $4 AND tenant = $5 AND revision = $6",
    )
    .bind(record.secret_hash.as_str())
    .bind(to_i64(record.revision, "token revision")?)
    .bind(encode_record(record))
    .bind(id.as_str())
    .bind(tenant)
    .bind(expected)
    .execute(conn)
    .map_err(|e| write_error(e, "token"))?;
    if done.rows_affected() == 0 {
        return Err(StoreError::Conflict);
    }
    Ok(())
}

/// Inserts sealed audit events (sequence number and record), in multi-row statements.
fn append_audit(conn: &Conn, rows: &[(i64, Vec<u8>)]) -> Result<(), StoreError> {
    let mut rest = rows;
    while !rest.is_empty() {
        // The largest power of two that fits: at most 7 statement shapes, each prepared once.
        let n = AUDIT_ROWS_PER_INSERT.min(1 << rest.len().ilog2());
        let (chunk, tail) = rest.split_at(n);
        rest = tail;
        let mut q = query(audit_insert(n)).in_order();
        for (seq, doc) in chunk {
            q = q.bind(*seq).bind(doc.as_slice());
        }
        q.execute(conn).map_err(|e| write_error(e, "audit event"))?;
    }
    Ok(())
}

/// Most rows of one multi-row audit INSERT (2 parameters each, well under SQLite's limit).
const AUDIT_ROWS_PER_INSERT: usize = 64;

/// The INSERT of `rows` audit events (a power of two up to [`AUDIT_ROWS_PER_INSERT`]), built
/// once per shape: only placeholders are spliced in, the values are bound.
fn audit_insert(rows: usize) -> &'static str {
    static SHAPES: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();
    let shapes = SHAPES.get_or_init(|| {
        (0..=AUDIT_ROWS_PER_INSERT.ilog2())
            .map(|shape| {
                let placeholders: Vec<String> = (0..1usize << shape)
                    .map(|i| format!("(${}, ${})", 2 * i + 1, 2 * i + 2))
                    .collect();
                format!(
                    "INSERT INTO audit (seq, doc) VALUES {}",
                    placeholders.join(", ")
                )
            })
            .collect()
    });
    &shapes[rows.ilog2() as usize]
}

/// Fails with `NotFound("key")` unless the key exists (in `tenant`, when given).
fn require_key(conn: &Conn, key_id: &KeyId, tenant: Option<&TenantId>) -> Result<(), StoreError> {
    let found = match tenant {
        Some(tenant) => {
            let q = query("SELECT 1 FROM keys WHERE id = $1 AND tenant = $2")
                .bind(key_id.to_string())
                .bind(tenant.as_str());
            exists(conn, q)?
        }
        None => exists(
            conn,
            query("SELECT 1 FROM keys WHERE id = $1").bind(key_id.to_string()),
        )?,
    };
    if found {
        Ok(())
    } else {
        Err(StoreError::NotFound("key"))
    }
}

/// Whether `q` returns a row.
fn exists(conn: &Conn, q: Stmt<'_>) -> Result<bool, StoreError> {
    let row = q.fetch_optional(conn).map_err(backend)?;
    Ok(row.is_some())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_audit_insert_shape_has_its_placeholders_in_order() {
        assert_eq!(
            audit_insert(1),
            "INSERT INTO audit (seq, doc) VALUES ($1, $2)"
        );
        assert_eq!(
            audit_insert(4),
            "INSERT INTO audit (seq, doc) VALUES ($1, $2), ($3, $4), ($5, $6), ($7, $8)"
        );
        let widest = audit_insert(AUDIT_ROWS_PER_INSERT);
        assert!(widest.ends_with("($127, $128)"), "{widest}");
        assert_eq!(widest.matches('(').count(), AUDIT_ROWS_PER_INSERT + 1);
    }
}
