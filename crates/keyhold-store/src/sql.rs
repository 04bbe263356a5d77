//! [`SqlStore`]: the [`KeyStore`] over a SQL database.

use std::fmt;
use std::path::{Path, PathBuf};

use async_trait::async_trait;
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
use keyhold_core::store::{KeyFilter, KeyStore, Snapshot, StoreError, WriteBatch};
use sqlx::AnyPool;

use crate::dialect::Dialect;
use crate::error::backend;
use crate::writer::Writer;
use crate::{open, read, snapshot};

/// A [`KeyStore`] over SQL. See the crate docs for its layout.
///
/// Reads run on a pool of connections; every [`commit`](KeyStore::commit) runs on a single
/// writer connection, in one transaction, so writers queue instead of deadlocking and a batch
/// is either wholly durable or wholly absent.
pub struct SqlStore {
    dialect: Dialect,
    read: AnyPool,
    write: Writer,
    path: PathBuf,
}

impl SqlStore {
    /// Opens the SQLite database at `path`, creating the file (readable by its owner only) if it
    /// is missing, and brings its schema up to date.
    ///
    /// The database runs with a write-ahead log, `synchronous=FULL` (a commit is on disk when it
    /// returns), foreign keys, and `secure_delete` (deleted bytes are zeroed). The parent
    /// directory must exist.
    pub async fn open_sqlite(path: &Path) -> Result<SqlStore, StoreError> {
        let pools = open::open_sqlite_pools(path).await?;
        let dialect = Dialect::Sqlite;
        // Migrations run through sqlx's migrator on a connection of their own, closed before
        // the writer thread opens the one connection that writes from then on.
        let migrated = dialect.migrator().run(&pools.write).await.map_err(backend);
        pools.write.close().await;
        if let Err(e) = migrated {
            pools.read.close().await;
            return Err(e);
        }
        let write = match Writer::start(path) {
            Ok(w) => w,
            Err(e) => {
                pools.read.close().await;
                return Err(e);
            }
        };
        Ok(SqlStore {
            dialect,
            read: pools.read,
            write,
            path: path.to_owned(),
        })
    }

    /// The database file, for diagnostics.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Closes every connection, waiting for those in use to be returned. Later calls fail.
    pub async fn close(&self) {
        self.read.close().await;
        self.write.close().await;
    }
}

impl fmt::Debug for SqlStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqlStore")
            .field("dialect", &self.dialect.name())
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

#[async_trait]
impl KeyStore for SqlStore {
    async fn system_value(&self, name: &str) -> Result<Option<Vec<u8>>, StoreError> {
        read::system_value(&self.read, name).await
    }

    async fn tenant(&self, id: &TenantId) -> Result<Option<TenantRecord>, StoreError> {
        read::tenant(&self.read, id).await
    }

    async fn tenants(&self) -> Result<Vec<TenantRecord>, StoreError> {
        read::tenants(&self.read).await
    }

    async fn key(&self, tenant: &TenantId, id: &KeyId) -> Result<Option<KeyRecord>, StoreError> {
        read::key(&self.read, tenant, id).await
    }

    async fn key_any_tenant(&self, id: &KeyId) -> Result<Option<KeyRecord>, StoreError> {
        read::key_any_tenant(&self.read, id).await
    }

    async fn key_by_name(
        &self,
        tenant: &TenantId,
        name: &KeyName,
    ) -> Result<Option<KeyRecord>, StoreError> {
        read::key_by_name(&self.read, tenant, name).await
    }

    async fn key_by_idempotency(
        &self,
        tenant: &TenantId,
        token: &str,
    ) -> Result<Option<KeyRecord>, StoreError> {
        read::key_by_idempotency(&self.read, tenant, token).await
    }

    async fn list_keys(
        &self,
        tenant: &TenantId,
        filter: &KeyFilter,
        after: Option<&KeyId>,
        limit: u32,
    ) -> Result<Vec<KeyRecord>, StoreError> {
        read::list_keys(&self.read, tenant, filter, after, limit).await
    }

    async fn keys_due(&self, now: Timestamp, limit: u32) -> Result<Vec<KeyRecord>, StoreError> {
        read::keys_due(&self.read, now, limit).await
    }

    async fn version(&self, key: &KeyId, version: u32) -> Result<Option<KeyVersion>, StoreError> {
        read::version(&self.read, key, version).await
    }

    async fn versions(&self, key: &KeyId) -> Result<Vec<KeyVersion>, StoreError> {
        read::versions(&self.read, key).await
    }

    async fn alias(
        &self,
        tenant: &TenantId,
        name: &AliasName,
    ) -> Result<Option<Alias>, StoreError> {
        read::alias(&self.read, tenant, name).await
    }

    async fn aliases(
        &self,
        tenant: &TenantId,
        key: Option<&KeyId>,
    ) -> Result<Vec<Alias>, StoreError> {
        read::aliases(&self.read, tenant, key).await
    }

    async fn token_by_hash(&self, secret_hash: &str) -> Result<Option<TokenRecord>, StoreError> {
        read::token_by_hash(&self.read, secret_hash).await
    }

    async fn token(
        &self,
        tenant: &TenantId,
        id: &TokenId,
    ) -> Result<Option<TokenRecord>, StoreError> {
        read::token(&self.read, tenant, id).await
    }

    async fn client_cert(&self, fingerprint: &str) -> Result<Option<ClientCertRecord>, StoreError> {
        read::client_cert(&self.read, fingerprint).await
    }

    async fn client_certs(&self, tenant: &TenantId) -> Result<Vec<ClientCertRecord>, StoreError> {
        read::client_certs(&self.read, tenant).await
    }

    async fn trust_anchor(
        &self,
        id: &TrustAnchorId,
    ) -> Result<Option<TrustAnchorRecord>, StoreError> {
        read::trust_anchor(&self.read, id).await
    }

    async fn trust_anchors(
        &self,
        tenant: Option<&TenantId>,
    ) -> Result<Vec<TrustAnchorRecord>, StoreError> {
        read::trust_anchors(&self.read, tenant).await
    }

    async fn tokens(&self, tenant: &TenantId) -> Result<Vec<TokenRecord>, StoreError> {
        read::tokens(&self.read, tenant).await
    }

    async fn grants(
        &self,
        tenant: &TenantId,
        key: Option<&KeyId>,
        grantee: Option<&PrincipalName>,
    ) -> Result<Vec<Grant>, StoreError> {
        read::grants(&self.read, tenant, key, grantee).await
    }

    async fn grant_uses(&self, tenant: &TenantId, grant: &GrantId) -> Result<u64, StoreError> {
        read::grant_uses(&self.read, tenant, grant).await
    }

    async fn policy_versions(
        &self,
        tenant: &TenantId,
        subject: &PolicySubject,
    ) -> Result<Vec<PolicyVersion>, StoreError> {
        read::policy_versions(&self.read, tenant, subject).await
    }

    async fn latest_policy(
        &self,
        tenant: &TenantId,
        subject: &PolicySubject,
    ) -> Result<Option<PolicyVersion>, StoreError> {
        read::latest_policy(&self.read, tenant, subject).await
    }

    async fn approval(
        &self,
        tenant: &TenantId,
        id: &ApprovalId,
    ) -> Result<Option<ApprovalRecord>, StoreError> {
        read::approval(&self.read, tenant, id).await
    }

    async fn approvals(
        &self,
        tenant: &TenantId,
        status: Option<ApprovalStatus>,
        before: Option<&ApprovalId>,
        limit: u32,
    ) -> Result<Vec<ApprovalRecord>, StoreError> {
        read::approvals(&self.read, tenant, status, before, limit).await
    }

    async fn open_approvals(
        &self,
        tenant: &TenantId,
        request_digest: &str,
    ) -> Result<Vec<ApprovalRecord>, StoreError> {
        read::open_approvals(&self.read, tenant, request_digest).await
    }

    async fn approvals_due(
        &self,
        now: Timestamp,
        limit: u32,
    ) -> Result<Vec<ApprovalRecord>, StoreError> {
        read::approvals_due(&self.read, now, limit).await
    }

    async fn audit_head(&self) -> Result<Option<(u64, String)>, StoreError> {
        read::audit_head(&self.read).await
    }

    async fn audit_events(&self, from: u64, limit: u32) -> Result<Vec<AuditEvent>, StoreError> {
        read::audit_events(&self.read, from, limit).await
    }

    async fn commit(&self, batch: WriteBatch) -> Result<(), StoreError> {
        self.write.commit(batch).await
    }

    async fn archived_version(
        &self,
        key: &KeyId,
        version: u32,
    ) -> Result<Option<ArchivedVersion>, StoreError> {
        read::archived_version(&self.read, key, version).await
    }

    async fn snapshot(&self) -> Result<Box<dyn Snapshot>, StoreError> {
        Ok(Box::new(snapshot::SqlSnapshot::begin(&self.read).await?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sqlx::Row;

    /// The value of `pragma` on a connection of `pool`.
    async fn pragma(pool: &AnyPool, pragma: &'static str) -> String {
        let row = sqlx::query(pragma).fetch_one(pool).await.expect("pragma");
        match row.try_get::<String, _>(0) {
            Ok(text) => text,
            Err(_) => row
                .try_get::<i64, _>(0)
                .expect("integer pragma")
                .to_string(),
        }
    }

    #[tokio::test]
    async fn connections_run_with_the_promised_settings() {
        let dir = tempfile::tempdir().expect("temporary directory");
        let store = SqlStore::open_sqlite(&dir.path().join("k.db"))
            .await
            .expect("open");
        let w = &store.write;
        assert_eq!(w.pragma("PRAGMA journal_mode").await, "wal");
        assert_eq!(w.pragma("PRAGMA synchronous").await, "2", "FULL");
        assert_eq!(w.pragma("PRAGMA foreign_keys").await, "1");
        assert_eq!(w.pragma("PRAGMA secure_delete").await, "1");
        assert_eq!(w.pragma("PRAGMA busy_timeout").await, "5000");
        // Checkpoints run on the writer thread between commits, never inside one.
        assert_eq!(w.pragma("PRAGMA wal_autocheckpoint").await, "0");
        let r = &store.read;
        assert_eq!(pragma(r, "PRAGMA query_only").await, "1");
        assert_eq!(pragma(r, "PRAGMA journal_mode").await, "wal");
        assert!(
            sqlx::query("DELETE FROM system").execute(r).await.is_err(),
            "readers cannot write"
        );
        store.close().await;
        assert!(
            store
                .commit(WriteBatch(vec![keyhold_core::store::Write::InsertSystem {
                    name: "x".into(),
                    value: vec![1],
                }]))
                .await
                .is_err(),
            "a closed store does not write"
        );
    }

    #[tokio::test]
    async fn batches_queued_together_commit_in_one_group_each_on_its_own() {
        use keyhold_core::store::Write;
        use keyhold_testkit::fixtures;
        let dir = tempfile::tempdir().expect("temporary directory");
        let store = SqlStore::open_sqlite(&dir.path().join("k.db"))
            .await
            .expect("open");
        let t = fixtures::tenant_id("acme");
        let taken = fixtures::named_key(&t, "taken");
        store
            .commit(WriteBatch(vec![
                Write::InsertTenant(fixtures::tenant("acme")),
                Write::InsertKey(taken.clone()),
            ]))
            .await
            .expect("set-up");
        let keys: Vec<_> = (0..5)
            .map(|i| fixtures::named_key(&t, &format!("k{i}")))
            .collect();
        let release = store.write.hold();
        let commits = keys.iter().enumerate().map(|(i, key)| {
            let mut writes = vec![Write::InsertKey(key.clone())];
            if i == 2 {
                writes.push(Write::InsertKey(fixtures::named_key(&t, "taken")));
            }
            writes.push(Write::Audit(
                fixtures::audit_draft(i as u64, &format!("b{i}")).prepare(),
            ));
            store.commit(WriteBatch(writes))
        });
        // Every batch is queued behind the hold before the thread goes on.
        let (results, ()) = tokio::join!(futures_util::future::join_all(commits), async {
            release.send(()).expect("held");
        });
        for (i, result) in results.iter().enumerate() {
            assert_eq!(result.is_ok(), i != 2, "batch {i}: {result:?}");
        }
        assert!(matches!(
            results[2],
            Err(StoreError::AlreadyExists("key name"))
        ));
        for (i, key) in keys.iter().enumerate() {
            let stored = store.key(&t, &key.id).await.expect("read");
            assert_eq!(stored.is_some(), i != 2, "key {i}");
        }
        let events = store.audit_events(1, 10).await.expect("read");
        let actions: Vec<_> = events.iter().map(|e| e.action.as_str()).collect();
        assert_eq!(actions, ["b0", "b1", "b3", "b4"]);
        assert_eq!(keyhold_core::audit::verify_chain(&events), Ok(4));
        store.close().await;
    }
}
