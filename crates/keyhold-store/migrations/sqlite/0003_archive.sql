-- Archive storage (issue 5): the material of archived key versions, wrapped under the tenant's
-- archive key, out of the active `key_versions` rows until the key is recovered.
CREATE TABLE archive (
    key_id  TEXT NOT NULL REFERENCES keys (id),
    version INTEGER NOT NULL,
    doc     BLOB NOT NULL,
    PRIMARY KEY (key_id, version)
) STRICT;
