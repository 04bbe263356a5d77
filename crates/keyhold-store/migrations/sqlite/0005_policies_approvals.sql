-- Key policies, versioned policies and dual control (issue 4).

-- How many times each grant limited by `max_uses` was used. Incremented in the transaction of
-- the use's audit event, only while below the limit; kept when the grant is revoked, so a
-- reverted grant resumes its count.
CREATE TABLE grant_uses (
    grant_id TEXT PRIMARY KEY NOT NULL,
    tenant   TEXT NOT NULL,
    uses     INTEGER NOT NULL,
    doc      BLOB NOT NULL
) STRICT;

-- Every version of every policy: a key's grants (`key:<id>`), a tenant's approval policy
-- (`approvals`) and separation-of-duties setting (`duties`). Append-only; versions 1, 2, …
CREATE TABLE policy_versions (
    tenant  TEXT NOT NULL,
    subject TEXT NOT NULL,
    version INTEGER NOT NULL,
    doc     BLOB NOT NULL,
    PRIMARY KEY (tenant, subject, version)
) STRICT;

-- Requests waiting for approvals, and their outcome.
CREATE TABLE approvals (
    id         TEXT PRIMARY KEY NOT NULL,
    tenant     TEXT NOT NULL,
    status     TEXT NOT NULL,
    digest     TEXT NOT NULL,
    -- Milliseconds since the epoch.
    expires_at INTEGER NOT NULL,
    revision   INTEGER NOT NULL,
    doc        BLOB NOT NULL
) STRICT;

CREATE INDEX approvals_tenant ON approvals (tenant, id);
CREATE INDEX approvals_digest ON approvals (tenant, digest);
CREATE INDEX approvals_open ON approvals (expires_at) WHERE status IN ('pending', 'approved');
