-- Trust anchors (issue 4): CA certificates trusted to issue client certificates for one tenant.
-- Removed anchors stay (removed = 1) for the record. `identity` is the SHA-256 of the CA's
-- subject and public key: at most one anchor that is not removed may have it, in all tenants,
-- so that a client certificate never authenticates in two tenants.
CREATE TABLE trust_anchors (
    id       TEXT PRIMARY KEY NOT NULL,
    tenant   TEXT NOT NULL REFERENCES tenants (id),
    identity TEXT NOT NULL,
    removed  INTEGER NOT NULL,
    revision INTEGER NOT NULL,
    doc      BLOB NOT NULL
) STRICT;

CREATE INDEX trust_anchors_tenant ON trust_anchors (tenant, id);
CREATE UNIQUE INDEX trust_anchors_live_identity ON trust_anchors (identity) WHERE removed = 0;
