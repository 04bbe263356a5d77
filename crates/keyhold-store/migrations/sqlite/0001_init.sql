-- Keyhold schema, version 1 (SQLite).
--
-- Every record is stored whole as a JSON document (`doc`, written by `encode_record`); the other
-- columns are derived from the record when it is written and exist only for constraints and
-- queries. `key_versions.doc` holds wrapped material only: the store never sees a plaintext key.

-- Installation-wide values: the sealed root key, the seal configuration, ...
CREATE TABLE system (
    name  TEXT PRIMARY KEY NOT NULL,
    value BLOB NOT NULL
) STRICT;

CREATE TABLE tenants (
    id  TEXT PRIMARY KEY NOT NULL,
    doc BLOB NOT NULL
) STRICT;

CREATE TABLE keys (
    id                TEXT PRIMARY KEY NOT NULL,
    tenant            TEXT NOT NULL,
    name              TEXT,
    idempotency_token TEXT,
    state             TEXT NOT NULL,
    algorithm         TEXT NOT NULL,
    -- Milliseconds since the epoch of the next date-driven event (the sweeper's index).
    next_due          INTEGER,
    revision          INTEGER NOT NULL,
    doc               BLOB NOT NULL,
    -- Parent key of the tenant-scoped foreign keys below; also serves listing by tenant in id order.
    UNIQUE (tenant, id),
    UNIQUE (tenant, name),
    UNIQUE (tenant, idempotency_token)
) STRICT;

CREATE INDEX keys_next_due ON keys (next_due) WHERE next_due IS NOT NULL;

-- One row per tag of a key, rewritten with the key; serves the tag filter of the key listing.
CREATE TABLE key_tags (
    key_id TEXT NOT NULL REFERENCES keys (id),
    tag    TEXT NOT NULL,
    value  TEXT NOT NULL,
    PRIMARY KEY (key_id, tag)
) STRICT;

CREATE INDEX key_tags_tag ON key_tags (tag, value);

CREATE TABLE key_versions (
    key_id  TEXT NOT NULL REFERENCES keys (id),
    version INTEGER NOT NULL,
    doc     BLOB NOT NULL,
    PRIMARY KEY (key_id, version)
) STRICT;

-- An alias and its key belong to the same tenant: the foreign key makes a cross-tenant alias
-- impossible.
CREATE TABLE aliases (
    tenant TEXT NOT NULL,
    name   TEXT NOT NULL,
    key_id TEXT NOT NULL,
    doc    BLOB NOT NULL,
    PRIMARY KEY (tenant, name),
    FOREIGN KEY (tenant, key_id) REFERENCES keys (tenant, id)
) STRICT;

CREATE INDEX aliases_key ON aliases (tenant, key_id);

CREATE TABLE tokens (
    id          TEXT PRIMARY KEY NOT NULL,
    tenant      TEXT NOT NULL,
    secret_hash TEXT NOT NULL UNIQUE,
    revision    INTEGER NOT NULL,
    doc         BLOB NOT NULL
) STRICT;

CREATE INDEX tokens_tenant ON tokens (tenant, id);

CREATE TABLE grants (
    id      TEXT PRIMARY KEY NOT NULL,
    tenant  TEXT NOT NULL,
    key_id  TEXT NOT NULL,
    grantee TEXT NOT NULL,
    doc     BLOB NOT NULL,
    FOREIGN KEY (tenant, key_id) REFERENCES keys (tenant, id)
) STRICT;

CREATE INDEX grants_key ON grants (tenant, key_id, id);
CREATE INDEX grants_grantee ON grants (tenant, grantee, id);

-- Append-only; `seq` is the event's sequence number (1, 2, ... without gaps).
CREATE TABLE audit (
    seq INTEGER PRIMARY KEY NOT NULL,
    doc BLOB NOT NULL
) STRICT;
