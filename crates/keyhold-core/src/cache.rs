//! The hot path's caches (DESIGN.md §8): authenticated tokens, key records, key references,
//! key policies (grants), tenant policies (approvals, duties), keys' alias and version lists,
//! authenticated client certificate chains, and unwrapped key versions. They
//! are per node and in memory only.
//!
//! # Correctness
//!
//! - **Invalidation on commit.** Every [`WriteBatch`](crate::store::WriteBatch) the core commits
//!   goes through [`Caches::invalidate`] after the store made it durable and before the request
//!   that wrote it is answered (see `Kms::commit_events`). So once a state change is acknowledged, no
//!   request of this node can read the old state from a cache.
//! - **No stale refill.** A request reads the cache's epoch when it starts; it may fill the cache
//!   only if no invalidation happened since (the epoch is bumped, under the same lock, by every
//!   invalidation). A request that read a record from the store just before a commit can
//!   therefore not put the old record back after the commit invalidated it.
//! - **Other nodes.** Writes committed by another node are not seen here until an entry expires:
//!   tokens, key records, references and grants live at most `ttl_ms`. Unwrapped versions are
//!   tied to the key record's revision (a hit needs the revision of the record the request is
//!   using), so they can be no staler than that record; they also expire after `version_ttl_ms`
//!   and [`Caches::purge_expired`] drops expired entries on every sweep.
//! - **Secrets.** Unwrapped material is held as [`SecretBytes`], which zeroizes its buffer when
//!   dropped: on eviction, invalidation, expiry, replacement and [`Caches::clear`] (on seal).
//!
//! Each cache is bounded and evicts with the CLOCK algorithm (an approximation of LRU: a hit sets
//! a reference bit; eviction skips, and clears, referenced entries).

use std::borrow::Borrow;
use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Arc, Mutex};

use keyhold_crypto::SecretBytes;

use crate::clock::Timestamp;
use crate::ids::{AliasName, GrantId, KeyId, KeyName, TenantId};
use crate::model::{Grant, KeyRecord, KeyVersion, TokenRecord};
use crate::policy::{ApprovalPolicy, DutiesPolicy, PolicySubject};
use crate::store::{Insert, Write};

/// A bounded map with CLOCK eviction and an optional time to live.
pub(crate) struct ClockCache<K, V> {
    index: HashMap<K, usize>,
    slots: Vec<Slot<K, V>>,
    hand: usize,
    capacity: usize,
    ttl_ms: Option<i64>,
}

struct Slot<K, V> {
    key: K,
    value: V,
    stamp: Timestamp,
    referenced: bool,
}

impl<K: Hash + Eq + Clone, V> ClockCache<K, V> {
    /// A cache of at most `capacity` entries (0 disables it), each living at most `ttl_ms`.
    pub(crate) fn new(capacity: usize, ttl_ms: Option<i64>) -> Self {
        Self {
            index: HashMap::new(),
            slots: Vec::new(),
            hand: 0,
            capacity,
            ttl_ms,
        }
    }

    fn expired(&self, stamp: Timestamp, now: Timestamp) -> bool {
        // A clock that went backwards also expires the entry.
        now < stamp
            || self
                .ttl_ms
                .is_some_and(|ttl| now.millis().saturating_sub(stamp.millis()) >= ttl)
    }

    /// The live entry for `key`; an expired one is dropped.
    pub(crate) fn get<Q>(&mut self, key: &Q, now: Timestamp) -> Option<&V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let i = *self.index.get(key)?;
        if self.expired(self.slots[i].stamp, now) {
            self.remove_at(i);
            return None;
        }
        let slot = &mut self.slots[i];
        slot.referenced = true;
        Some(&slot.value)
    }

    /// Inserts or replaces; evicts one entry when full. The dropped value is dropped here.
    pub(crate) fn insert(&mut self, key: K, value: V, now: Timestamp) {
        if self.capacity == 0 {
            return;
        }
        if let Some(&i) = self.index.get(&key) {
            let slot = &mut self.slots[i];
            slot.value = value;
            slot.stamp = now;
            slot.referenced = true;
            return;
        }
        let fresh = Slot {
            key: key.clone(),
            value,
            stamp: now,
            referenced: false,
        };
        if self.slots.len() < self.capacity {
            self.index.insert(key, self.slots.len());
            self.slots.push(fresh);
            return;
        }
        // Every referenced entry met is given a second chance; at most one full turn.
        while self.slots[self.hand].referenced {
            self.slots[self.hand].referenced = false;
            self.hand = (self.hand + 1) % self.slots.len();
        }
        let victim = std::mem::replace(&mut self.slots[self.hand], fresh);
        self.index.remove(&victim.key);
        self.index.insert(key, self.hand);
        self.hand = (self.hand + 1) % self.slots.len();
        drop(victim);
    }

    /// Drops the entry for `key`.
    pub(crate) fn remove<Q>(&mut self, key: &Q)
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        if let Some(&i) = self.index.get(key) {
            self.remove_at(i);
        }
    }

    /// Drops every entry for which `keep` is false.
    pub(crate) fn retain(&mut self, mut keep: impl FnMut(&K, &V) -> bool) {
        let mut i = 0;
        while i < self.slots.len() {
            if keep(&self.slots[i].key, &self.slots[i].value) {
                i += 1;
            } else {
                // The last slot moves into `i`; look at `i` again.
                self.remove_at(i);
            }
        }
    }

    /// Drops every expired entry.
    pub(crate) fn purge_expired(&mut self, now: Timestamp) {
        let mut i = 0;
        while i < self.slots.len() {
            if self.expired(self.slots[i].stamp, now) {
                self.remove_at(i);
            } else {
                i += 1;
            }
        }
    }

    /// Drops everything.
    pub(crate) fn clear(&mut self) {
        self.index.clear();
        self.slots.clear();
        self.hand = 0;
    }

    /// Number of entries.
    pub(crate) fn len(&self) -> usize {
        self.slots.len()
    }

    fn remove_at(&mut self, i: usize) {
        let slot = self.slots.swap_remove(i);
        self.index.remove(&slot.key);
        if let Some(moved) = self.slots.get(i) {
            if let Some(p) = self.index.get_mut(&moved.key) {
                *p = i;
            }
        }
        if self.hand >= self.slots.len() {
            self.hand = 0;
        }
        drop(slot);
    }
}

/// A token as authentication needs it: its record and whether its tenant is disabled.
#[derive(Clone)]
pub(crate) struct CachedToken {
    pub record: TokenRecord,
    pub tenant_disabled: bool,
}

/// A client certificate chain's authentication: who it is and until when that holds.
#[derive(Clone)]
pub(crate) struct CachedCert {
    pub who: crate::pki::CertPrincipal,
    /// The earliest notAfter of the chain, its pin or its anchor.
    pub valid_until: Timestamp,
    pub tenant_disabled: bool,
}

/// How a client named a key, other than by id.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum RefName {
    Name(KeyName),
    Alias(AliasName),
}

/// A key's grants are cached whole (every grantee), per tenant and key.
type GrantKey = (TenantId, KeyId);

/// A tenant's current approval policy and separation-of-duties setting.
#[derive(Debug, Clone, Default)]
pub(crate) struct TenantPolicies {
    pub approvals: ApprovalPolicy,
    pub duties: DutiesPolicy,
}

/// What a key's full description adds to its record: its aliases and its versions.
#[derive(Debug)]
pub(crate) struct KeyListing {
    pub aliases: Vec<AliasName>,
    pub versions: Vec<crate::ops::VersionInfo>,
}

/// An unwrapped key version, valid for one revision of its key record.
struct CachedVersion {
    revision: u64,
    record: KeyVersion,
    material: SecretBytes,
}

/// Whether committing `w` can make a cache entry stale. New rows cannot (misses are not cached),
/// except a pin or an anchor, which can change how a cached certificate chain authenticates.
/// Use counters and approvals are never cached.
pub(crate) fn touches(w: &Write) -> bool {
    !matches!(
        w,
        Write::Audit(_)
            | Write::InsertSystem { .. }
            | Write::UpdateSystem { .. }
            | Write::DeleteSystem { .. }
            | Write::InsertKey(_)
            | Write::InsertToken(_)
            | Write::CountGrantUse { .. }
            | Write::PutGrantUses(_)
            | Write::InsertApproval(_)
            | Write::UpdateApproval { .. }
            | Write::InsertIfAbsent(Insert::Key(_) | Insert::Approval(_))
    )
}

/// Sizes and lifetimes of the caches.
#[derive(Debug, Clone, Copy)]
pub(crate) struct CacheLimits {
    /// Entries per cache of tokens, key records, references and grants.
    pub records: usize,
    /// Unwrapped key versions.
    pub versions: usize,
    /// Lifetime of tokens, key records, references and grants.
    pub ttl_ms: i64,
    /// Lifetime of an unwrapped key version.
    pub version_ttl_ms: i64,
}

struct Inner {
    /// Bumped by every invalidation; see the module docs.
    epoch: u64,
    tokens: ClockCache<String, CachedToken>,
    keys: ClockCache<KeyId, KeyRecord>,
    refs: ClockCache<(TenantId, RefName), KeyId>,
    grants: ClockCache<GrantKey, Arc<Vec<Grant>>>,
    policies: ClockCache<TenantId, Arc<TenantPolicies>>,
    versions: ClockCache<(KeyId, u32), CachedVersion>,
    listings: ClockCache<KeyId, Arc<KeyListing>>,
    certs: ClockCache<[u8; 32], CachedCert>,
}

/// Every cache of the hot path, behind one lock (each critical section is a hash lookup).
pub(crate) struct Caches {
    inner: Mutex<Inner>,
    /// Pins and trust anchors for the TLS listeners, updated by every successful commit.
    pub(crate) trust: crate::pki::ClientTrust,
}

/// Entry counts, for tests and diagnostics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CacheSizes {
    /// Authenticated tokens.
    pub tokens: usize,
    /// Key records.
    pub keys: usize,
    /// Names and aliases resolved to key ids.
    pub refs: usize,
    /// Grant lists (per tenant and key).
    pub grants: usize,
    /// Tenant policies (approvals and duties, per tenant).
    pub policies: usize,
    /// Unwrapped key versions.
    pub versions: usize,
    /// Keys' aliases and version lists.
    pub listings: usize,
    /// Authenticated client certificate chains.
    pub certs: usize,
}

impl Caches {
    pub(crate) fn new(limits: CacheLimits) -> Self {
        let ttl = Some(limits.ttl_ms);
        Self {
            inner: Mutex::new(Inner {
                epoch: 0,
                tokens: ClockCache::new(limits.records, ttl),
                keys: ClockCache::new(limits.records, ttl),
                refs: ClockCache::new(limits.records, ttl),
                grants: ClockCache::new(limits.records, ttl),
                policies: ClockCache::new(limits.records, ttl),
                versions: ClockCache::new(limits.versions, Some(limits.version_ttl_ms)),
                listings: ClockCache::new(limits.records, ttl),
                certs: ClockCache::new(limits.records, ttl),
            }),
            trust: crate::pki::ClientTrust::default(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        crate::kms::lock(&self.inner)
    }

    /// The current epoch: pass it to the `put_*` calls of the same request.
    pub(crate) fn epoch(&self) -> u64 {
        self.lock().epoch
    }

    pub(crate) fn token(&self, hash: &str, now: Timestamp) -> Option<CachedToken> {
        self.lock().tokens.get(hash, now).cloned()
    }

    pub(crate) fn put_token(&self, epoch: u64, hash: String, t: CachedToken, now: Timestamp) {
        let mut g = self.lock();
        if g.epoch == epoch {
            g.tokens.insert(hash, t, now);
        }
    }

    pub(crate) fn key(&self, id: &KeyId, now: Timestamp) -> Option<KeyRecord> {
        self.lock().keys.get(id, now).cloned()
    }

    pub(crate) fn put_key(&self, epoch: u64, record: &KeyRecord, now: Timestamp) {
        let mut g = self.lock();
        if g.epoch == epoch {
            g.keys.insert(record.id, record.clone(), now);
        }
    }

    pub(crate) fn key_ref(&self, tenant: &TenantId, r: &RefName, now: Timestamp) -> Option<KeyId> {
        self.lock()
            .refs
            .get(&(tenant.clone(), r.clone()), now)
            .copied()
    }

    pub(crate) fn put_ref(
        &self,
        epoch: u64,
        tenant: &TenantId,
        r: RefName,
        id: KeyId,
        now: Timestamp,
    ) {
        let mut g = self.lock();
        if g.epoch == epoch {
            g.refs.insert((tenant.clone(), r), id, now);
        }
    }

    pub(crate) fn grants(&self, k: &GrantKey, now: Timestamp) -> Option<Arc<Vec<Grant>>> {
        self.lock().grants.get(k, now).cloned()
    }

    pub(crate) fn put_grants(&self, epoch: u64, k: GrantKey, v: Arc<Vec<Grant>>, now: Timestamp) {
        let mut g = self.lock();
        if g.epoch == epoch {
            g.grants.insert(k, v, now);
        }
    }

    pub(crate) fn policies(
        &self,
        tenant: &TenantId,
        now: Timestamp,
    ) -> Option<Arc<TenantPolicies>> {
        self.lock().policies.get(tenant, now).cloned()
    }

    pub(crate) fn put_policies(
        &self,
        epoch: u64,
        tenant: TenantId,
        v: Arc<TenantPolicies>,
        now: Timestamp,
    ) {
        let mut g = self.lock();
        if g.epoch == epoch {
            g.policies.insert(tenant, v, now);
        }
    }

    /// Version `version` of `key`, if it was unwrapped for this revision of the key record.
    pub(crate) fn version(
        &self,
        key: &KeyRecord,
        version: u32,
        now: Timestamp,
    ) -> Option<(SecretBytes, KeyVersion)> {
        let mut g = self.lock();
        let v = g.versions.get(&(key.id, version), now)?;
        (v.revision == key.revision).then(|| (v.material.clone(), v.record.clone()))
    }

    pub(crate) fn put_version(
        &self,
        epoch: u64,
        key: &KeyRecord,
        record: &KeyVersion,
        material: &SecretBytes,
        now: Timestamp,
    ) {
        let mut g = self.lock();
        if g.epoch == epoch {
            let cached = CachedVersion {
                revision: key.revision,
                record: record.clone(),
                material: material.clone(),
            };
            g.versions.insert((key.id, record.version), cached, now);
        }
    }

    /// The cached authentication of a chain, while it holds at `now`.
    pub(crate) fn cert(&self, chain: &[u8; 32], now: Timestamp) -> Option<CachedCert> {
        let mut g = self.lock();
        let c = g.certs.get(chain, now)?;
        (now < c.valid_until).then(|| c.clone())
    }

    pub(crate) fn put_cert(&self, epoch: u64, chain: [u8; 32], c: CachedCert, now: Timestamp) {
        let mut g = self.lock();
        if g.epoch == epoch {
            g.certs.insert(chain, c, now);
        }
    }

    pub(crate) fn listing(&self, id: &KeyId, now: Timestamp) -> Option<Arc<KeyListing>> {
        self.lock().listings.get(id, now).cloned()
    }

    pub(crate) fn put_listing(&self, epoch: u64, id: KeyId, v: Arc<KeyListing>, now: Timestamp) {
        let mut g = self.lock();
        if g.epoch == epoch {
            g.listings.insert(id, v, now);
        }
    }

    /// Forgets everything `writes` may have made stale. Called after they are durable and before
    /// the request that made them is answered.
    pub(crate) fn invalidate(&self, writes: &[Write]) {
        let mut g = None;
        for w in writes {
            if !touches(w) {
                continue;
            }
            // A record inserted unless present touches what its plain insert touches.
            let plain;
            let w = match w {
                Write::InsertIfAbsent(insert) => {
                    plain = insert.clone().into_write();
                    &plain
                }
                other => other,
            };
            let inner = g.get_or_insert_with(|| {
                let mut inner = self.lock();
                inner.epoch += 1;
                inner
            });
            match w {
                Write::InsertTenant(t) => {
                    inner.tokens.retain(|_, c| c.record.tenant != t.id);
                    inner.certs.retain(|_, c| *c.who.tenant() != t.id);
                }
                Write::UpdateTenant { record, .. } => {
                    inner.tokens.retain(|_, c| c.record.tenant != record.id);
                    inner.certs.retain(|_, c| *c.who.tenant() != record.id);
                }
                // A pin wins over an anchor, and anchors decide for every tenant: any change
                // of either forgets every cached chain (such changes are rare).
                Write::InsertClientCert(_)
                | Write::UpdateClientCert { .. }
                | Write::InsertTrustAnchor(_)
                | Write::UpdateTrustAnchor { .. } => inner.certs.clear(),
                Write::ArchiveVersion(a) => {
                    inner.versions.remove(&(a.key_id, a.version));
                    inner.listings.remove(&a.key_id);
                }
                Write::RecoverVersion(v) => {
                    inner.versions.remove(&(v.key_id, v.version));
                    inner.listings.remove(&v.key_id);
                }
                Write::UpdateKey { record, .. } => {
                    inner.keys.remove(&record.id);
                    inner.listings.remove(&record.id);
                    for v in 1..=record.current_version {
                        inner.versions.remove(&(record.id, v));
                    }
                }
                Write::InsertVersion(v) => {
                    inner.versions.remove(&(v.key_id, v.version));
                    inner.listings.remove(&v.key_id);
                }
                Write::DestroyVersionMaterial { key_id, version } => {
                    inner.versions.remove(&(*key_id, *version));
                    inner.listings.remove(key_id);
                }
                Write::InsertAlias(a) => {
                    inner
                        .refs
                        .remove(&(a.tenant.clone(), RefName::Alias(a.name.clone())));
                    inner.listings.remove(&a.key_id);
                }
                Write::DeleteAlias { tenant, name } => {
                    inner
                        .refs
                        .remove(&(tenant.clone(), RefName::Alias(name.clone())));
                    // The write does not say which key had the alias.
                    inner.listings.retain(|_, l| !l.aliases.contains(name));
                }
                Write::UpdateToken { record, .. } => {
                    inner.tokens.remove(record.secret_hash.as_str())
                }
                Write::InsertGrant(grant) => {
                    inner.grants.remove(&(grant.tenant.clone(), grant.key_id))
                }
                Write::DeleteGrant { tenant, id } => {
                    let (tenant, id): (&TenantId, &GrantId) = (tenant, id);
                    inner
                        .grants
                        .retain(|k, v| !(k.0 == *tenant && v.iter().any(|x| x.id == *id)));
                }
                Write::InsertPolicyVersion(p) => match p.subject {
                    // A key's grants are cached from the grant rows, which the same batch writes.
                    PolicySubject::Key(_) => {}
                    PolicySubject::Approvals | PolicySubject::Duties => {
                        inner.policies.remove(&p.tenant)
                    }
                },
                Write::Audit(_)
                | Write::InsertSystem { .. }
                | Write::UpdateSystem { .. }
                | Write::DeleteSystem { .. }
                | Write::InsertKey(_)
                | Write::InsertToken(_)
                // Replaced by its plain insert above.
                | Write::InsertIfAbsent(_) => {}
                Write::CountGrantUse { .. }
                | Write::PutGrantUses(_)
                | Write::InsertApproval(_)
                | Write::UpdateApproval { .. } => {}
            }
        }
    }

    /// Drops every expired entry (called by the sweeper).
    pub(crate) fn purge_expired(&self, now: Timestamp) {
        let mut g = self.lock();
        g.tokens.purge_expired(now);
        g.keys.purge_expired(now);
        g.refs.purge_expired(now);
        g.grants.purge_expired(now);
        g.policies.purge_expired(now);
        g.versions.purge_expired(now);
        g.listings.purge_expired(now);
        g.certs.purge_expired(now);
    }

    /// Drops everything (on seal), zeroizing every unwrapped version.
    pub(crate) fn clear(&self) {
        let mut g = self.lock();
        g.epoch += 1;
        g.tokens.clear();
        g.keys.clear();
        g.refs.clear();
        g.grants.clear();
        g.policies.clear();
        g.versions.clear();
        g.listings.clear();
        g.certs.clear();
    }

    pub(crate) fn sizes(&self) -> CacheSizes {
        let g = self.lock();
        CacheSizes {
            tokens: g.tokens.len(),
            keys: g.keys.len(),
            refs: g.refs.len(),
            grants: g.grants.len(),
            policies: g.policies.len(),
            versions: g.versions.len(),
            listings: g.listings.len(),
            certs: g.certs.len(),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;
    use crate::clock::{Clock, ManualClock};
    use crate::ids::PrincipalName;
    use crate::lifecycle::Lifecycle;
    use crate::model::RECORD_VERSION;

    /// Counts its drops, so a test sees when the cache let go of a value (and of the secret it
    /// holds, which zeroizes itself on drop).
    struct Tracked(Arc<AtomicUsize>, #[allow(dead_code)] SecretBytes);

    impl Drop for Tracked {
        fn drop(&mut self) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    fn t(ms: i64) -> Timestamp {
        Timestamp::from_millis(ms)
    }

    #[test]
    fn never_holds_more_than_its_capacity() {
        let mut c = ClockCache::new(3, None);
        for i in 0..100u32 {
            c.insert(i, i, t(0));
            assert!(c.len() <= 3);
        }
        assert_eq!(c.len(), 3);
        // The most recent insert is always present.
        assert_eq!(c.get(&99, t(0)), Some(&99));
        let mut off = ClockCache::new(0, None);
        off.insert(1u32, 1u32, t(0));
        assert_eq!(off.len(), 0);
        assert_eq!(off.get(&1, t(0)), None);
    }

    #[test]
    fn eviction_drops_the_evicted_secret_and_nothing_else() {
        let drops = Arc::new(AtomicUsize::new(0));
        let secret = || Tracked(drops.clone(), SecretBytes::new(vec![7; 32]));
        let mut c = ClockCache::new(2, None);
        c.insert(1u32, secret(), t(0));
        c.insert(2, secret(), t(0));
        assert_eq!(drops.load(Ordering::SeqCst), 0);
        c.insert(3, secret(), t(0));
        assert_eq!(
            drops.load(Ordering::SeqCst),
            1,
            "one value evicted, dropped"
        );
        assert_eq!(c.len(), 2);
        // Replacing a value drops the old one.
        c.insert(3, secret(), t(0));
        assert_eq!(drops.load(Ordering::SeqCst), 2);
        c.remove(&3);
        assert_eq!(drops.load(Ordering::SeqCst), 3);
        c.clear();
        assert_eq!(drops.load(Ordering::SeqCst), 4);
        assert_eq!(c.len(), 0);
    }

    #[test]
    fn clock_gives_recently_used_entries_a_second_chance() {
        let mut c = ClockCache::new(3, None);
        for k in ["a", "b", "c"] {
            c.insert(k, (), t(0));
        }
        assert!(c.get("a", t(0)).is_some());
        c.insert("d", (), t(0));
        assert!(c.get("a", t(0)).is_some(), "a was used, b was not");
        assert!(c.get("b", t(0)).is_none());
        assert!(c.get("c", t(0)).is_some());
        assert!(c.get("d", t(0)).is_some());
        // Everything referenced: one full turn clears the bits, then the hand's slot goes.
        c.insert("e", (), t(0));
        assert_eq!(c.len(), 3);
        assert!(c.get("e", t(0)).is_some());
    }

    #[test]
    fn removal_keeps_the_index_consistent() {
        let mut c = ClockCache::new(10, None);
        for i in 0..10u32 {
            c.insert(i, i * 10, t(0));
        }
        c.retain(|k, _| k % 3 != 0);
        assert_eq!(c.len(), 6);
        for i in 0..10u32 {
            let expect = (i % 3 != 0).then_some(i * 10);
            assert_eq!(c.get(&i, t(0)).copied(), expect, "{i}");
        }
        c.remove(&4);
        c.remove(&4);
        assert_eq!(c.get(&5, t(0)), Some(&50));
        assert_eq!(c.len(), 5);
    }

    #[test]
    fn entries_expire_with_the_clock() {
        let clock = ManualClock::new(t(1_000_000));
        let drops = Arc::new(AtomicUsize::new(0));
        let mut c = ClockCache::new(4, Some(5_000));
        c.insert(
            1u32,
            Tracked(drops.clone(), SecretBytes::default()),
            clock.now(),
        );
        clock.advance_secs(4);
        assert!(c.get(&1, clock.now()).is_some());
        clock.advance_secs(1);
        assert!(c.get(&1, clock.now()).is_none(), "5 s old: expired");
        assert_eq!(drops.load(Ordering::SeqCst), 1, "and dropped on access");
        assert_eq!(c.len(), 0);
        // A clock set backwards expires entries too.
        c.insert(
            2,
            Tracked(drops.clone(), SecretBytes::default()),
            clock.now(),
        );
        clock.set(t(999_000));
        assert!(c.get(&2, clock.now()).is_none());
        // purge_expired drops without being asked for the entry.
        clock.set(t(2_000_000));
        c.insert(
            3,
            Tracked(drops.clone(), SecretBytes::default()),
            clock.now(),
        );
        clock.advance_secs(10);
        c.insert(
            4,
            Tracked(drops.clone(), SecretBytes::default()),
            clock.now(),
        );
        c.purge_expired(clock.now());
        assert_eq!(c.len(), 1);
        assert!(c.get(&4, clock.now()).is_some());
    }

    fn key(revision: u64, current_version: u32) -> KeyRecord {
        KeyRecord {
            lifecycle: Lifecycle::new(t(0), Some(t(0)), None, None),
            current_version,
            revision,
            ..crate::model::tests::record()
        }
    }

    fn version(key: &KeyRecord, n: u32) -> KeyVersion {
        KeyVersion {
            v: RECORD_VERSION,
            key_id: key.id,
            version: n,
            created_at: t(0),
            wrapped: vec![1; 48],
            nonce: vec![2; 12],
            public_key: None,
            destroyed: false,
        }
    }

    fn limits() -> CacheLimits {
        CacheLimits {
            records: 100,
            versions: 100,
            ttl_ms: 5_000,
            version_ttl_ms: 300_000,
        }
    }

    #[test]
    fn a_key_update_forgets_the_record_and_every_version() {
        let c = Caches::new(limits());
        let k = key(1, 2);
        let e = c.epoch();
        c.put_key(e, &k, t(0));
        for n in 1..=2 {
            c.put_version(
                e,
                &k,
                &version(&k, n),
                &SecretBytes::new(vec![n as u8; 32]),
                t(0),
            );
        }
        assert_eq!(c.key(&k.id, t(0)), Some(k.clone()));
        assert_eq!(c.version(&k, 2, t(0)).unwrap().0.as_bytes(), &[2; 32]);
        let mut new = k.clone();
        new.revision = 2;
        c.invalidate(&[Write::UpdateKey {
            record: new.clone(),
            expected_revision: 1,
        }]);
        assert_eq!(c.key(&k.id, t(0)), None);
        assert!(c.version(&k, 1, t(0)).is_none());
        assert!(c.version(&k, 2, t(0)).is_none());
        assert_eq!(c.sizes(), CacheSizes::default());
    }

    #[test]
    fn a_version_is_served_only_for_the_revision_it_was_unwrapped_for() {
        let c = Caches::new(limits());
        let k = key(3, 1);
        c.put_version(
            c.epoch(),
            &k,
            &version(&k, 1),
            &SecretBytes::new(vec![9; 32]),
            t(0),
        );
        assert!(c.version(&k, 1, t(0)).is_some());
        let mut other_node_changed_it = k.clone();
        other_node_changed_it.revision = 4;
        assert!(c.version(&other_node_changed_it, 1, t(0)).is_none());
    }

    #[test]
    fn a_read_that_began_before_an_invalidation_does_not_refill() {
        let c = Caches::new(limits());
        let k = key(1, 1);
        // A request starts and reads the key from the store...
        let began = c.epoch();
        // ...meanwhile a revoke commits and invalidates...
        let mut revoked = k.clone();
        revoked.revision = 2;
        c.invalidate(&[Write::UpdateKey {
            record: revoked.clone(),
            expected_revision: 1,
        }]);
        // ...so the old record it read may not enter the cache.
        c.put_key(began, &k, t(0));
        c.put_version(
            began,
            &k,
            &version(&k, 1),
            &SecretBytes::new(vec![1; 32]),
            t(0),
        );
        assert_eq!(c.key(&k.id, t(0)), None);
        assert_eq!(c.sizes().versions, 0);
        // A request that began after may.
        c.put_key(c.epoch(), &revoked, t(0));
        assert_eq!(c.key(&k.id, t(0)), Some(revoked));
        // Writes of new rows and audit events do not bump the epoch.
        let e = c.epoch();
        c.invalidate(&[Write::InsertKey(key(1, 1))]);
        assert_eq!(c.epoch(), e);
    }

    #[test]
    fn grant_alias_token_and_tenant_writes_invalidate_their_entries() {
        let c = Caches::new(limits());
        let k = key(1, 1);
        let tenant = TenantId::default_tenant();
        let user: PrincipalName = "user".parse().unwrap();
        let grant = Grant {
            v: RECORD_VERSION,
            id: GrantId::generate(),
            tenant: tenant.clone(),
            key_id: k.id,
            grantee: user.clone().into(),
            operations: Default::default(),
            conditions: Default::default(),
            created_at: t(0),
            created_by: PrincipalName::system(),
        };
        let gk = (tenant.clone(), k.id);
        let e = c.epoch();
        c.put_grants(e, gk.clone(), Arc::new(vec![grant.clone()]), t(0));
        c.invalidate(&[Write::DeleteGrant {
            tenant: tenant.clone(),
            id: grant.id,
        }]);
        assert!(c.grants(&gk, t(0)).is_none());
        c.put_grants(c.epoch(), gk.clone(), Arc::new(vec![]), t(0));
        c.invalidate(&[Write::InsertGrant(grant.clone())]);
        assert!(
            c.grants(&gk, t(0)).is_none(),
            "an empty list is forgotten too"
        );

        // A new version of the tenant's approval policy or duties setting forgets its entry.
        c.put_policies(
            c.epoch(),
            tenant.clone(),
            Arc::new(TenantPolicies::default()),
            t(0),
        );
        assert!(c.policies(&tenant, t(0)).is_some());
        c.invalidate(&[Write::InsertPolicyVersion(crate::policy::PolicyVersion {
            v: RECORD_VERSION,
            tenant: tenant.clone(),
            subject: PolicySubject::Duties,
            version: 1,
            document: crate::policy::PolicyDocument::Duties(DutiesPolicy {
                allow_combined_duties: true,
            }),
            changed_at: t(0),
            changed_by: user.clone(),
            change: String::new(),
            reverted_to: None,
            approval: None,
        })]);
        assert!(c.policies(&tenant, t(0)).is_none());
        // Counting a use or recording an approval invalidates nothing.
        let e = c.epoch();
        c.invalidate(&[Write::CountGrantUse {
            tenant: tenant.clone(),
            grant: grant.id,
            limit: 3,
        }]);
        assert_eq!(c.epoch(), e);

        let alias: AliasName = "alias/a".parse().unwrap();
        c.put_ref(
            c.epoch(),
            &tenant,
            RefName::Alias(alias.clone()),
            k.id,
            t(0),
        );
        assert_eq!(
            c.key_ref(&tenant, &RefName::Alias(alias.clone()), t(0)),
            Some(k.id)
        );
        c.invalidate(&[Write::DeleteAlias {
            tenant: tenant.clone(),
            name: alias.clone(),
        }]);
        assert_eq!(c.key_ref(&tenant, &RefName::Alias(alias), t(0)), None);

        let token = TokenRecord {
            v: RECORD_VERSION,
            id: crate::ids::TokenId::generate(),
            tenant: tenant.clone(),
            principal: user,
            role: crate::model::Role::KeyUser,
            secret_hash: "ab".repeat(32),
            description: String::new(),
            created_at: t(0),
            created_by: PrincipalName::system(),
            expires_at: None,
            revoked_at: None,
            revision: 1,
        };
        let cached = CachedToken {
            record: token.clone(),
            tenant_disabled: false,
        };
        c.put_token(c.epoch(), token.secret_hash.clone(), cached.clone(), t(0));
        assert!(c.token(&token.secret_hash, t(0)).is_some());
        c.invalidate(&[Write::UpdateToken {
            record: token.clone(),
            expected_revision: 1,
        }]);
        assert!(c.token(&token.secret_hash, t(0)).is_none());
        c.put_token(c.epoch(), token.secret_hash.clone(), cached, t(0));
        c.clear();
        assert_eq!(c.sizes(), CacheSizes::default());
    }
}
