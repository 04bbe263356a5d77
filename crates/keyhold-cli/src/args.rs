//! The command line, as clap derive structures. Values are parsed into typed values here
//! (see [`crate::parse`]), so a bad value is a usage error with exit code 2.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use keyhold_client::DEFAULT_ADDRESS;
use keyhold_core::clock::Timestamp;
use keyhold_core::ids::{PrincipalName, TenantId};
use keyhold_core::lifecycle::{KeyState, RevocationReason};
use keyhold_core::model::{KeyOp, KeyUsage, Role};
use keyhold_core::policy::{ApprovalAction, ApprovalStatus};
use keyhold_crypto::{Algorithm, SigningAlgorithm};

use crate::parse;

/// Keyhold: a key management system. This is its command-line client (and server launcher).
#[derive(Debug, Parser)]
#[command(name = "keyhold", version, max_term_width = 100)]
pub struct Cli {
    /// Server address.
    #[arg(long, global = true, env = "KEYHOLD_ADDR", default_value = DEFAULT_ADDRESS, value_name = "URL")]
    pub addr: String,
    /// API token (prefer the environment variable: arguments are visible to other users).
    #[arg(
        long,
        global = true,
        env = "KEYHOLD_TOKEN",
        hide_env_values = true,
        value_name = "TOKEN"
    )]
    pub token: Option<String>,
    /// CA certificate (PEM) that issued the server's certificate; default ./keyhold-dev/ca.pem
    /// when it exists, else the system's trust store.
    #[arg(long, global = true, env = "KEYHOLD_CACERT", value_name = "FILE")]
    pub cacert: Option<String>,
    /// Client certificate (PEM, with its chain) for mutual TLS: without a token, requests are
    /// authenticated by it (pinned with `kmip-client add`, or issued under a trust anchor).
    #[arg(long, global = true, env = "KEYHOLD_CLIENT_CERT", value_name = "FILE")]
    pub client_cert: Option<String>,
    /// The client certificate's private key (PEM).
    #[arg(long, global = true, env = "KEYHOLD_CLIENT_KEY", value_name = "FILE")]
    pub client_key: Option<String>,
    /// Print the server's JSON answer instead of readable text.
    #[arg(long, global = true)]
    pub json: bool,
    #[command(subcommand)]
    pub command: Command,
}

/// Every command.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Show whether the server runs, is initialized and is sealed.
    Status,
    /// Submit an unseal share (prompted for without echo unless --share is given).
    Unseal(UnsealArgs),
    /// Show who the token authenticates.
    Whoami,
    /// Root of trust: rotate the root key.
    #[command(subcommand)]
    Root(RootCommand),
    /// Create, inspect and manage keys.
    #[command(subcommand)]
    Key(KeyCommand),
    /// Encrypt a small plaintext (up to the server's limit); prints the base64 ciphertext.
    Encrypt(EncryptArgs),
    /// Decrypt a ciphertext; writes the plaintext bytes to stdout or --out.
    Decrypt(DecryptArgs),
    /// Re-encrypt a ciphertext under a key's current version (or another key).
    Reencrypt(ReencryptArgs),
    /// Generate a data key for envelope encryption.
    Datakey(DatakeyArgs),
    /// Sign a message or a digest; prints the base64 signature.
    Sign(SignArgs),
    /// Verify a signature; exit code 0 when valid, 1 when not.
    Verify(VerifyArgs),
    /// Compute an HMAC; prints the base64 tag.
    Mac(MacArgs),
    /// Verify an HMAC; exit code 0 when valid, 1 when not.
    MacVerify(MacVerifyArgs),
    /// Random bytes from the server's cryptographic module.
    Random(RandomArgs),
    /// Issue, list and revoke API tokens (administrators).
    #[command(subcommand)]
    Token(TokenCommand),
    /// Allow key users to use keys: the statements of a key's policy (key managers).
    #[command(subcommand)]
    Grant(GrantCommand),
    /// A key's policy history, and reverts to an earlier version.
    #[command(subcommand)]
    Policy(PolicyCommand),
    /// Dual control: requests waiting for approvals, and the approval policy.
    #[command(subcommand)]
    Approval(ApprovalCommand),
    /// The tenant's separation-of-duties setting (administrators).
    #[command(subcommand)]
    Duties(DutiesCommand),
    /// Register, list and revoke the client certificates of KMIP clients (administrators).
    #[command(subcommand)]
    KmipClient(KmipClientCommand),
    /// Create, list, disable and enable tenants (administrators of the default tenant).
    #[command(subcommand)]
    Tenant(TenantCommand),
    /// Trust CA certificates to issue client certificates for a tenant (administrators).
    #[command(subcommand)]
    TrustAnchor(TrustAnchorCommand),
    /// Verify and export the audit trail (auditors).
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Compliance reports (auditors): keys, access, usage, approvals.
    Report(ReportArgs),
    /// Encrypt a file or stream of any size under a data key (envelope encryption).
    EncryptFile(EncryptFileArgs),
    /// Decrypt a file made by encrypt-file.
    DecryptFile(DecryptFileArgs),
    /// Back up, verify, restore, and recover single keys (administrators).
    #[command(subcommand)]
    Backup(BackupCommand),
    /// Run the Keyhold server (`--dev` to try it: initialized and unsealed automatically).
    Serve(keyhold_server::cli::ServeArgs),
    /// Initialize a new installation: root key, unseal shares, first administrator token.
    Init(keyhold_server::cli::InitArgs),
}

/// `unseal`.
#[derive(Debug, Args)]
pub struct UnsealArgs {
    /// The share (`khs1-…`). Without it, prompted for on the terminal, or one line from stdin.
    #[arg(long, value_name = "SHARE")]
    pub share: Option<String>,
}

/// `key …`.
#[derive(Debug, Subcommand)]
pub enum KeyCommand {
    /// Generate a new key.
    Create(CreateArgs),
    /// List keys.
    List(ListArgs),
    /// Show a key (id, name or alias/…).
    Show(KeyArg),
    /// Change a key's name, description, tags, rotation or dates.
    Update(UpdateArgs),
    /// Rotate a key now: a new version protects new data.
    Rotate(KeyArg),
    /// Activate a pre-active key.
    Activate(KeyArg),
    /// Suspend an active key.
    Suspend(KeyArg),
    /// Resume a suspended key.
    Resume(KeyArg),
    /// Deactivate a key (decrypt and verify only from now on).
    Deactivate(KeyArg),
    /// Revoke a key (compromise reasons make it compromised, others deactivated).
    Revoke(RevokeArgs),
    /// Schedule a key's destruction after a waiting period.
    ScheduleDestroy(ScheduleDestroyArgs),
    /// Cancel a scheduled destruction.
    CancelDestroy(KeyArg),
    /// Destroy a key's material now (refused while the key is active).
    Destroy(KeyArg),
    /// Move a deactivated or compromised key's material to archive storage (the key does
    /// nothing until recovered).
    Archive(KeyArg),
    /// Bring an archived key's material back.
    Recover(KeyArg),
    /// Import key material (bring your own key), wrapped on this machine before it is sent.
    Import(ImportArgs),
    /// Print the public key (PEM) of an asymmetric key.
    PublicKey(PublicKeyArgs),
    /// Derive a new AES or HMAC key from a key with usage derive (PBKDF2, HKDF, SP 800-108).
    Derive(DeriveArgs),
    /// Export a version's material, wrapped under another AES key of the tenant or in the clear.
    Export(ExportArgs),
    /// Manage aliases (alias/…).
    #[command(subcommand)]
    Alias(AliasCommand),
}

/// A single key reference.
#[derive(Debug, Args)]
pub struct KeyArg {
    /// Key id, name or alias/….
    #[arg(value_name = "KEY")]
    pub key: String,
}

/// Attributes of a new key, shared by `key create` and `key import`.
#[derive(Debug, Args)]
pub struct SpecArgs {
    /// Unique name.
    #[arg(long)]
    pub name: Option<String>,
    /// Free text.
    #[arg(long, default_value = "")]
    pub description: String,
    /// A tag, KEY=VALUE (repeatable).
    #[arg(long = "tag", value_name = "KEY=VALUE", value_parser = parse::key_value)]
    pub tags: Vec<(String, String)>,
    /// A label: a further name, not unique (repeatable; KMIP clients see labels as Names).
    #[arg(long = "label", value_name = "LABEL")]
    pub labels: Vec<String>,
    /// encrypt-decrypt, sign-verify or mac (default from the algorithm).
    #[arg(long, value_parser = parse::usage)]
    pub usage: Option<KeyUsage>,
    /// When the key becomes active (RFC 3339).
    #[arg(long, value_parser = parse::timestamp, value_name = "TIME")]
    pub activation_date: Option<Timestamp>,
    /// When the key's protection period ends (RFC 3339).
    #[arg(long, value_parser = parse::timestamp, value_name = "TIME")]
    pub deactivation_date: Option<Timestamp>,
    /// Protection period after activation, e.g. 90d.
    #[arg(long, value_parser = parse::duration_secs, value_name = "DURATION")]
    pub crypto_period: Option<u64>,
    /// Automatic rotation period, e.g. 30d.
    #[arg(long, value_parser = parse::duration_secs, value_name = "DURATION")]
    pub rotation_period: Option<u64>,
    /// Create the key pre-active (activate it later).
    #[arg(long)]
    pub pre_active: bool,
}

/// `key create`.
#[derive(Debug, Args)]
pub struct CreateArgs {
    /// Algorithm: aes-128/192/256, hmac-sha256/384/512, rsa-2048/3072/4096, ec-p256/384/521,
    /// ed25519.
    #[arg(long = "alg", value_parser = parse::algorithm, value_name = "ALG")]
    pub algorithm: Algorithm,
    #[command(flatten)]
    pub spec: SpecArgs,
    /// Makes the creation idempotent: a retry with the same token returns the same key.
    #[arg(long, value_name = "TOKEN")]
    pub idempotency_token: Option<String>,
}

/// `key list`.
#[derive(Debug, Args)]
pub struct ListArgs {
    /// Only keys in this state.
    #[arg(long, value_parser = parse::key_state)]
    pub state: Option<KeyState>,
    /// Only keys of this algorithm.
    #[arg(long = "alg", value_parser = parse::algorithm, value_name = "ALG")]
    pub algorithm: Option<Algorithm>,
    /// Only keys with this tag.
    #[arg(long, value_name = "KEY=VALUE", value_parser = parse::key_value)]
    pub tag: Option<(String, String)>,
    /// Only keys whose name starts with this.
    #[arg(long, value_name = "PREFIX")]
    pub name_prefix: Option<String>,
    /// Only keys with this label.
    #[arg(long, value_name = "LABEL")]
    pub label: Option<String>,
    /// Page size.
    #[arg(long, value_parser = parse::positive_u32)]
    pub limit: Option<u32>,
    /// Continue after this page token.
    #[arg(long, value_name = "TOKEN")]
    pub page_token: Option<String>,
    /// Follow every page to the end.
    #[arg(long)]
    pub all: bool,
}

/// `key update`.
#[derive(Debug, Args)]
pub struct UpdateArgs {
    /// Key id, name or alias/….
    #[arg(value_name = "KEY")]
    pub key: String,
    /// New name.
    #[arg(long)]
    pub name: Option<String>,
    /// New description.
    #[arg(long)]
    pub description: Option<String>,
    /// Replaces all tags with these, KEY=VALUE (repeatable).
    #[arg(long = "tag", value_name = "KEY=VALUE", value_parser = parse::key_value)]
    pub tags: Vec<(String, String)>,
    /// Remove every tag.
    #[arg(long, conflicts_with = "tags")]
    pub clear_tags: bool,
    /// Replaces all labels with these (repeatable).
    #[arg(long = "label", value_name = "LABEL")]
    pub labels: Vec<String>,
    /// Remove every label.
    #[arg(long, conflicts_with = "labels")]
    pub clear_labels: bool,
    /// New rotation period, e.g. 30d, or `off`.
    #[arg(long, value_parser = parse::rotation_period, value_name = "DURATION")]
    pub rotation_period: Option<u64>,
    /// Oldest version still accepted for decryption.
    #[arg(long, value_parser = parse::positive_u32, value_name = "N")]
    pub min_decrypt_version: Option<u32>,
    /// New end of the protection period (RFC 3339).
    #[arg(long, value_parser = parse::timestamp, value_name = "TIME")]
    pub deactivation_date: Option<Timestamp>,
}

/// `key revoke`.
#[derive(Debug, Args)]
pub struct RevokeArgs {
    /// Key id, name or alias/….
    #[arg(value_name = "KEY")]
    pub key: String,
    /// key-compromise, ca-compromise, affiliation-changed, superseded, cessation-of-operation,
    /// privilege-withdrawn or unspecified.
    #[arg(long, value_parser = parse::revocation_reason)]
    pub reason: RevocationReason,
}

/// `key schedule-destroy`.
#[derive(Debug, Args)]
pub struct ScheduleDestroyArgs {
    /// Key id, name or alias/….
    #[arg(value_name = "KEY")]
    pub key: String,
    /// Days to wait.
    #[arg(long, conflicts_with = "waiting_period", value_parser = parse::positive_u32)]
    pub days: Option<u32>,
    /// Time to wait, e.g. 7d (default: the server's).
    #[arg(long, value_parser = parse::duration_secs, value_name = "DURATION")]
    pub waiting_period: Option<u64>,
}

/// Formats of key material files.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum MaterialFormat {
    /// Raw key bytes (AES, HMAC).
    Raw,
    /// PKCS#8 private key, DER.
    Pkcs8Der,
    /// PKCS#8 private key, PEM (`BEGIN PRIVATE KEY`).
    Pkcs8Pem,
}

/// `key import`.
#[derive(Debug, Args)]
pub struct ImportArgs {
    /// The material's algorithm.
    #[arg(long = "alg", value_parser = parse::algorithm, value_name = "ALG")]
    pub algorithm: Algorithm,
    /// File holding the key material.
    #[arg(long, value_name = "FILE")]
    pub material: PathBuf,
    /// Default: raw for AES and HMAC; for key pairs, PEM or DER by the file's content.
    #[arg(long, value_enum)]
    pub format: Option<MaterialFormat>,
    /// Add the material as a new version of this imported key instead of creating a key.
    #[arg(long, value_name = "KEY")]
    pub key: Option<String>,
    #[command(flatten)]
    pub spec: SpecArgs,
}

/// `key derive`.
#[derive(Debug, Args)]
pub struct DeriveArgs {
    /// The base: key id, name or alias/… with usage derive.
    #[arg(value_name = "BASE")]
    pub base: String,
    /// The new key's algorithm: aes-128/192/256 or hmac-sha256/384/512.
    #[arg(long = "alg", value_parser = parse::algorithm, value_name = "ALG")]
    pub algorithm: Algorithm,
    /// pbkdf2, hkdf or sp800-108-counter.
    #[arg(long, value_name = "METHOD")]
    pub method: String,
    /// The hash of the PRF (or of HKDF): sha256, sha384 or sha512 (sha1 too for pbkdf2 and hkdf).
    #[arg(long, default_value = "sha256")]
    pub hash: String,
    /// Salt, base64 (pbkdf2: required; hkdf: optional).
    #[arg(long, value_name = "BASE64")]
    pub salt: Option<String>,
    /// HKDF info, base64.
    #[arg(long, value_name = "BASE64")]
    pub info: Option<String>,
    /// SP 800-108 label and context, base64.
    #[arg(long, value_name = "BASE64")]
    pub context: Option<String>,
    /// PBKDF2 iterations.
    #[arg(long)]
    pub iterations: Option<u32>,
    #[command(flatten)]
    pub spec: SpecArgs,
}

/// `key export`.
#[derive(Debug, Args)]
pub struct ExportArgs {
    /// Key id, name or alias/….
    #[arg(value_name = "KEY")]
    pub key: String,
    /// Version (default: current).
    #[arg(long, value_parser = parse::positive_u32)]
    pub version: Option<u32>,
    /// Wrap the material under this AES key of the tenant (which needs an encrypt grant).
    #[arg(long, value_name = "KEY")]
    pub wrap_key: Option<String>,
    /// aes-key-wrap (RFC 3394) or aes-key-wrap-pad (RFC 5649, any length).
    #[arg(long, default_value = "aes-key-wrap-pad", requires = "wrap_key")]
    pub wrap_mode: String,
    /// Write the material's bytes to this file (mode 0600) instead of printing them in base64.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

/// `key public-key`.
#[derive(Debug, Args)]
pub struct PublicKeyArgs {
    /// Key id, name or alias/….
    #[arg(value_name = "KEY")]
    pub key: String,
    /// Version (default: current).
    #[arg(long, value_parser = parse::positive_u32)]
    pub version: Option<u32>,
}

/// `key alias …`.
#[derive(Debug, Subcommand)]
pub enum AliasCommand {
    /// Point a new alias at a key.
    Create {
        /// alias/….
        #[arg(value_name = "ALIAS")]
        alias: String,
        /// Key id, name or alias/….
        #[arg(value_name = "KEY")]
        key: String,
    },
    /// Delete an alias (the key is untouched).
    Delete {
        /// alias/….
        #[arg(value_name = "ALIAS")]
        alias: String,
    },
    /// List aliases.
    List {
        /// Only the aliases of this key.
        #[arg(long, value_name = "KEY")]
        key: Option<String>,
    },
}

/// Where small data comes from: `--plaintext TEXT`, `--in FILE` (`-` for stdin), or stdin when
/// it is not a terminal.
#[derive(Debug, Args)]
pub struct PlaintextArgs {
    /// The plaintext, as text.
    #[arg(long, conflicts_with = "input", value_name = "TEXT")]
    pub plaintext: Option<String>,
    /// Read the plaintext from a file (`-`: stdin).
    #[arg(long = "in", value_name = "FILE")]
    pub input: Option<PathBuf>,
}

/// Where a message to sign or MAC comes from.
#[derive(Debug, Args)]
pub struct MessageArgs {
    /// The message, as text (with --digest: the digest in hex).
    #[arg(long, conflicts_with = "input", value_name = "TEXT")]
    pub message: Option<String>,
    /// Read the message from a file (`-`: stdin); with --digest, the raw digest bytes.
    #[arg(long = "in", value_name = "FILE")]
    pub input: Option<PathBuf>,
}

/// Encryption context pairs.
#[derive(Debug, Args)]
pub struct ContextArgs {
    /// Encryption context, KEY=VALUE (repeatable); the same pairs are needed to decrypt.
    #[arg(long = "context", value_name = "KEY=VALUE", value_parser = parse::key_value)]
    pub context: Vec<(String, String)>,
}

/// `encrypt`.
#[derive(Debug, Args)]
pub struct EncryptArgs {
    /// Key id, name or alias/….
    #[arg(value_name = "KEY")]
    pub key: String,
    #[command(flatten)]
    pub data: PlaintextArgs,
    #[command(flatten)]
    pub context: ContextArgs,
}

/// `decrypt`.
#[derive(Debug, Args)]
pub struct DecryptArgs {
    /// Base64 ciphertext, or @FILE (@- for stdin). Default: --in, else stdin.
    #[arg(value_name = "CIPHERTEXT", conflicts_with = "input")]
    pub ciphertext: Option<String>,
    /// File holding the base64 ciphertext (`-`: stdin).
    #[arg(long = "in", value_name = "FILE")]
    pub input: Option<PathBuf>,
    /// Write the plaintext to this file instead of stdout.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    #[command(flatten)]
    pub context: ContextArgs,
}

/// `reencrypt`.
#[derive(Debug, Args)]
pub struct ReencryptArgs {
    /// Base64 ciphertext, or @FILE (@- for stdin). Default: --in, else stdin.
    #[arg(value_name = "CIPHERTEXT", conflicts_with = "input")]
    pub ciphertext: Option<String>,
    /// File holding the base64 ciphertext (`-`: stdin).
    #[arg(long = "in", value_name = "FILE")]
    pub input: Option<PathBuf>,
    /// Destination key (default: the ciphertext's key, current version).
    #[arg(long, value_name = "KEY")]
    pub to: Option<String>,
    /// The ciphertext's encryption context, KEY=VALUE (repeatable).
    #[arg(long = "context", value_name = "KEY=VALUE", value_parser = parse::key_value)]
    pub context: Vec<(String, String)>,
    /// Context of the new ciphertext (default: the same as --context), KEY=VALUE (repeatable).
    #[arg(long = "to-context", value_name = "KEY=VALUE", value_parser = parse::key_value)]
    pub to_context: Vec<(String, String)>,
}

/// `datakey`.
#[derive(Debug, Args)]
pub struct DatakeyArgs {
    /// A symmetric key: id, name or alias/….
    #[arg(value_name = "KEY")]
    pub key: String,
    /// Data key length.
    #[arg(long, default_value = "32", value_parser = parse::positive_u32)]
    pub bytes: u32,
    /// Return only the encrypted data key.
    #[arg(long)]
    pub no_plaintext: bool,
    #[command(flatten)]
    pub context: ContextArgs,
}

/// `sign`.
#[derive(Debug, Args)]
pub struct SignArgs {
    /// Key id, name or alias/….
    #[arg(value_name = "KEY")]
    pub key: String,
    #[command(flatten)]
    pub message: MessageArgs,
    /// The input is a digest already computed with the algorithm's hash.
    #[arg(long)]
    pub digest: bool,
    /// Signing algorithm (default: the key's), e.g. rsa-pss-sha256, ecdsa-sha256, ed25519.
    #[arg(long = "alg", value_parser = parse::signing_algorithm, value_name = "ALG")]
    pub algorithm: Option<SigningAlgorithm>,
}

/// `verify`.
#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// Key id, name or alias/….
    #[arg(value_name = "KEY")]
    pub key: String,
    /// Base64 signature, or @FILE (@- for stdin).
    #[arg(long, value_name = "B64")]
    pub signature: String,
    #[command(flatten)]
    pub message: MessageArgs,
    /// The input is a digest.
    #[arg(long)]
    pub digest: bool,
    /// Signing algorithm (default: the key's).
    #[arg(long = "alg", value_parser = parse::signing_algorithm, value_name = "ALG")]
    pub algorithm: Option<SigningAlgorithm>,
    /// The version that signed (default: current).
    #[arg(long, value_parser = parse::positive_u32)]
    pub version: Option<u32>,
}

/// `mac`.
#[derive(Debug, Args)]
pub struct MacArgs {
    /// An HMAC key: id, name or alias/….
    #[arg(value_name = "KEY")]
    pub key: String,
    #[command(flatten)]
    pub message: MessageArgs,
}

/// `mac-verify`.
#[derive(Debug, Args)]
pub struct MacVerifyArgs {
    /// An HMAC key: id, name or alias/….
    #[arg(value_name = "KEY")]
    pub key: String,
    /// Base64 tag, or @FILE (@- for stdin).
    #[arg(long, value_name = "B64")]
    pub mac: String,
    #[command(flatten)]
    pub message: MessageArgs,
    /// The version that made the tag (default: current).
    #[arg(long, value_parser = parse::positive_u32)]
    pub version: Option<u32>,
}

/// `random`.
#[derive(Debug, Args)]
pub struct RandomArgs {
    /// How many bytes (1 to 1024).
    #[arg(long, value_parser = parse::positive_u32)]
    pub bytes: u32,
    /// Print hex instead of base64.
    #[arg(long)]
    pub hex: bool,
}

/// `token …`.
#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Issue a token; prints the secret alone (shown only this once).
    Create {
        /// The principal the token authenticates.
        #[arg(long, value_parser = parse::principal)]
        principal: PrincipalName,
        /// admin, key-manager, key-user or auditor.
        #[arg(long, value_parser = parse::role)]
        role: Role,
        /// Lifetime, e.g. 30d (default: no expiry).
        #[arg(long, value_parser = parse::duration_secs, value_name = "DURATION")]
        ttl: Option<u64>,
        /// Free text.
        #[arg(long, default_value = "")]
        description: String,
        /// Issue it in another tenant (administrators of the default tenant, admin role only:
        /// the tenant's first administrator).
        #[arg(long, value_parser = parse::tenant)]
        tenant: Option<TenantId>,
    },
    /// List tokens (never their secrets).
    List,
    /// Revoke a token.
    Revoke {
        /// The token's id (not its secret).
        #[arg(value_name = "ID")]
        id: String,
    },
}

/// `kmip-client …`.
#[derive(Debug, Subcommand)]
pub enum KmipClientCommand {
    /// Register a client certificate (PEM): the KMIP client that presents it authenticates as
    /// its principal (default: the certificate's common name) with these roles.
    Add {
        /// The certificate, PEM.
        #[arg(long, value_name = "FILE")]
        cert: PathBuf,
        /// admin, key-manager, key-user or auditor; repeat for several.
        #[arg(long = "role", value_parser = parse::role, required = true)]
        roles: Vec<Role>,
        /// The principal (default: the subject's common name).
        #[arg(long, value_parser = parse::principal)]
        principal: Option<PrincipalName>,
        /// Allow key-manager and key-user together (waives separation of duties; KMIP clients
        /// usually create the keys they use).
        #[arg(long)]
        allow_combined_duties: bool,
        /// Free text.
        #[arg(long, default_value = "")]
        description: String,
    },
    /// List registered client certificates.
    List,
    /// Revoke a client certificate.
    Revoke {
        /// Its fingerprint (hex SHA-256 of the DER), as `list` shows it.
        #[arg(value_name = "FINGERPRINT")]
        fingerprint: String,
    },
}

/// `grant …`.
#[derive(Debug, Subcommand)]
pub enum GrantCommand {
    /// Allow a key user (or every holder of a role) some operations on a key, optionally
    /// under conditions.
    Create {
        /// Key id, name or alias/….
        #[arg(value_name = "KEY")]
        key: String,
        /// The principal.
        #[arg(long, value_parser = parse::principal, value_name = "PRINCIPAL", required_unless_present = "to_role", conflicts_with = "to_role")]
        to: Option<PrincipalName>,
        /// Every principal of the tenant with this role (e.g. key-user).
        #[arg(long, value_parser = parse::role, value_name = "ROLE")]
        to_role: Option<Role>,
        /// Comma-separated: encrypt, decrypt, generate-data-key, re-encrypt, sign, verify, mac,
        /// mac-verify, get-public-key, export.
        #[arg(long, value_parser = parse::key_op, value_delimiter = ',', required = true, value_name = "OPS")]
        ops: Vec<KeyOp>,
        /// Only requests whose encryption context has KEY=VALUE (repeatable).
        #[arg(long = "require-context", value_name = "KEY=VALUE", value_parser = parse::key_value)]
        require_context: Vec<(String, String)>,
        /// Not valid before this instant (RFC 3339).
        #[arg(long, value_parser = parse::timestamp, value_name = "TIME")]
        not_before: Option<Timestamp>,
        /// Not valid from this instant on (RFC 3339).
        #[arg(long, value_parser = parse::timestamp, value_name = "TIME")]
        not_after: Option<Timestamp>,
        /// At most this many uses in all (counted exactly by the server).
        #[arg(long, value_name = "N")]
        max_uses: Option<u64>,
    },
    /// List grants.
    List {
        /// Only grants on this key.
        #[arg(long, value_name = "KEY")]
        key: Option<String>,
        /// Only grants to this principal.
        #[arg(long, value_parser = parse::principal, value_name = "PRINCIPAL")]
        grantee: Option<PrincipalName>,
    },
    /// Revoke a grant.
    Revoke {
        /// The grant's id.
        #[arg(value_name = "ID")]
        id: String,
    },
}

/// `report`.
#[derive(Debug, Args)]
pub struct ReportArgs {
    /// keys (by state, algorithm, age; past crypto-period; rotation overdue), access (who can do
    /// what with each key), usage (per key and principal over a period) or approvals.
    #[arg(value_parser = parse::report_kind, value_name = "KIND")]
    pub kind: keyhold_core::ops::ReportKind,
    /// Start of the usage period (RFC 3339; default 30 days before --to).
    #[arg(long, value_parser = parse::timestamp, value_name = "TIME")]
    pub from: Option<keyhold_core::clock::Timestamp>,
    /// End of the usage period (RFC 3339; default now).
    #[arg(long, value_parser = parse::timestamp, value_name = "TIME")]
    pub to: Option<keyhold_core::clock::Timestamp>,
}

/// `root …`.
#[derive(Debug, Subcommand)]
pub enum RootCommand {
    /// Rotate the root key online: every tenant key-encryption key and archive key is rewrapped
    /// under a new root key sealed by the root of trust (administrators of the default tenant).
    Rotate,
    /// Issue a new set of unseal shares with a new threshold; the old shares stop working.
    Rekey {
        /// N: shares to hand out.
        #[arg(long)]
        shares: u8,
        /// M: shares needed to unseal.
        #[arg(long)]
        threshold: u8,
    },
}

/// `policy …`.
#[derive(Debug, Subcommand)]
pub enum PolicyCommand {
    /// Every version of a key's policy: who changed what, when.
    History {
        /// Key id, name or alias/….
        #[arg(value_name = "KEY")]
        key: String,
    },
    /// Make an earlier version the key's policy again (a new version).
    Revert {
        /// Key id, name or alias/….
        #[arg(value_name = "KEY")]
        key: String,
        /// The version to return to.
        #[arg(long, value_name = "N")]
        to: u32,
    },
}

/// `approval …`.
#[derive(Debug, Subcommand)]
pub enum ApprovalCommand {
    /// List approvals, newest first.
    List {
        /// pending, approved, rejected, expired, executed or failed.
        #[arg(long, value_parser = parse::approval_status)]
        status: Option<ApprovalStatus>,
    },
    /// Show one approval.
    Show {
        /// The approval's id.
        #[arg(value_name = "ID")]
        id: String,
    },
    /// Approve a pending request (an eligible approver other than its requester).
    Approve {
        /// The approval's id.
        #[arg(value_name = "ID")]
        id: String,
        /// Why.
        #[arg(long, default_value = "")]
        comment: String,
    },
    /// Reject a pending request, or withdraw your own.
    Reject {
        /// The approval's id.
        #[arg(value_name = "ID")]
        id: String,
        /// Why.
        #[arg(long, default_value = "")]
        comment: String,
    },
    /// The tenant's approval policy (administrators change it).
    #[command(subcommand)]
    Policy(ApprovalPolicyCommand),
}

/// `approval policy …`.
#[derive(Debug, Subcommand)]
pub enum ApprovalPolicyCommand {
    /// Show the policy in force.
    Show,
    /// Require approvals for actions: replaces the rule of each action named.
    Set {
        /// Comma-separated: key.destroy, key.schedule-destroy, key.import, key.export,
        /// backup.restore, policy.change, approval-policy.change, duties.change, root.rotate,
        /// unseal.rekey.
        #[arg(long = "action", value_parser = parse::approval_action, value_delimiter = ',', required = true, value_name = "ACTIONS")]
        actions: Vec<ApprovalAction>,
        /// M: approvals needed.
        #[arg(long, value_name = "M")]
        approvals: u32,
        /// An eligible approver (repeatable).
        #[arg(long = "approver", value_parser = parse::principal, value_name = "PRINCIPAL")]
        approvers: Vec<PrincipalName>,
        /// Every holder of this role may approve (repeatable).
        #[arg(long = "approver-role", value_parser = parse::role, value_name = "ROLE")]
        approver_roles: Vec<Role>,
        /// How long a request waits for its approvals (default 24h).
        #[arg(long, value_parser = parse::duration_secs, value_name = "DURATION")]
        ttl: Option<u64>,
    },
    /// No longer require approvals for these actions.
    Remove {
        /// Comma-separated actions.
        #[arg(long = "action", value_parser = parse::approval_action, value_delimiter = ',', required = true, value_name = "ACTIONS")]
        actions: Vec<ApprovalAction>,
    },
    /// Every version of the approval policy.
    History,
    /// Make an earlier version the approval policy again.
    Revert {
        /// The version to return to.
        #[arg(long, value_name = "N")]
        to: u32,
    },
}

/// `duties …`.
#[derive(Debug, Subcommand)]
pub enum DutiesCommand {
    /// Show the setting in force.
    Show,
    /// Allow (true) or forbid (false) one principal to both manage and use keys.
    Set {
        /// true or false.
        #[arg(long, value_name = "BOOL", action = clap::ArgAction::Set)]
        allow_combined_duties: bool,
    },
    /// Every version of the setting.
    History,
    /// Make an earlier version the setting again.
    Revert {
        /// The version to return to.
        #[arg(long, value_name = "N")]
        to: u32,
    },
}

/// `audit …`.
#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Verify the hash chain and its signed checkpoints; exit code 0 when intact, 2 when broken.
    Verify,
    /// Write a signed checkpoint of the chain's head now (auditors, administrators).
    Checkpoint,
    /// Print the public key that verifies checkpoints (PEM), to keep apart from the server.
    CheckpointKey {
        /// Write it to this file instead of stdout.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
    /// Verify an exported trail offline (no server): the hash chain, and the checkpoints when
    /// given the public key; exit code 0 when intact, 2 when broken.
    VerifyFile {
        /// The export (`audit export --out`), from event 1.
        file: PathBuf,
        /// The checkpoint public key (`audit checkpoint-key`), PEM.
        #[arg(long, value_name = "PEM")]
        public_key: Option<PathBuf>,
    },
    /// Export events as JSON lines, following pages to the end.
    Export {
        /// First sequence number.
        #[arg(long, value_name = "SEQ")]
        from: Option<u64>,
        /// Write to this file instead of stdout.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
}

/// `encrypt-file`.
#[derive(Debug, Args)]
pub struct EncryptFileArgs {
    /// Key id, name or alias/… (a symmetric key).
    #[arg(value_name = "KEY")]
    pub key: String,
    /// Input file (`-`: stdin).
    #[arg(long = "in", value_name = "FILE")]
    pub input: PathBuf,
    /// Output file (`-`: stdout).
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
    #[command(flatten)]
    pub context: ContextArgs,
}

/// `decrypt-file`.
#[derive(Debug, Args)]
pub struct DecryptFileArgs {
    /// Input file (`-`: stdin).
    #[arg(long = "in", value_name = "FILE")]
    pub input: PathBuf,
    /// Output file (`-`: stdout; a corrupt input is then only reported at its end).
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("keyhold").chain(args.iter().copied()))
    }

    #[test]
    fn global_flags_work_after_the_subcommand() {
        let cli = parse(&["key", "list", "--json", "--addr", "https://kms:1"]).unwrap();
        assert!(cli.json);
        assert_eq!(cli.addr, "https://kms:1");
    }

    #[test]
    fn repeated_context_and_tags_are_collected() {
        let cli = parse(&[
            "encrypt",
            "k",
            "--plaintext",
            "hi",
            "--context",
            "a=1",
            "--context",
            "b=2",
        ])
        .unwrap();
        let Command::Encrypt(e) = cli.command else {
            panic!()
        };
        assert_eq!(e.context.context.len(), 2);
        let cli = parse(&[
            "key",
            "create",
            "--alg",
            "aes-256",
            "--tag",
            "env=prod",
            "--crypto-period",
            "90d",
        ])
        .unwrap();
        let Command::Key(KeyCommand::Create(c)) = cli.command else {
            panic!()
        };
        assert_eq!(c.spec.tags, [("env".to_owned(), "prod".to_owned())]);
        assert_eq!(c.spec.crypto_period, Some(90 * 86_400));
    }

    #[test]
    fn bad_values_are_usage_errors() {
        for args in [
            &["key", "create", "--alg", "des"][..],
            &[
                "key",
                "create",
                "--alg",
                "aes-256",
                "--rotation-period",
                "soon",
            ],
            &["encrypt", "k", "--context", "novalue"],
            &["encrypt", "k", "--plaintext", "x", "--in", "f"],
            &[
                "key",
                "schedule-destroy",
                "k",
                "--days",
                "3",
                "--waiting-period",
                "7d",
            ],
            &[
                "token",
                "create",
                "--principal",
                "a b",
                "--role",
                "key-user",
            ],
            &["grant", "create", "k", "--to", "app", "--ops", "fly"],
        ] {
            let e = parse(args).unwrap_err();
            assert_eq!(e.exit_code(), 2, "{args:?}");
        }
    }
}

/// `backup …`.
#[derive(Debug, Subcommand)]
pub enum BackupCommand {
    /// Back up every key of a running server into DIR: a key backup and a KEK backup.
    Create(BackupCreateArgs),
    /// Check a pair of artifacts without restoring them, and report what they hold.
    Verify(BackupVerifyArgs),
    /// Restore a pair into an empty server (initialized and unsealed, no keys).
    Restore(BackupRestoreArgs),
    /// Restore one key from a pair into a running server (only if no key with its id exists).
    RecoverKey(BackupRecoverKeyArgs),
}

/// `backup create`.
#[derive(Debug, Args)]
pub struct BackupCreateArgs {
    /// Directory for the two artifacts (created if missing).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Protect the backup key with this RSA public key (PEM) instead of shares.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["shares", "threshold"])]
    pub recipient: Option<PathBuf>,
    /// Backup shares to hand out (N).
    #[arg(long, default_value_t = 3)]
    pub shares: u8,
    /// Shares needed to open the backup (M).
    #[arg(long, default_value_t = 2)]
    pub threshold: u8,
}

/// The two artifacts and what opens them.
#[derive(Debug, Args)]
pub struct BackupInputArgs {
    /// The key backup (`….keys`).
    #[arg(long, value_name = "FILE")]
    pub key_backup: PathBuf,
    /// The KEK backup (`….keks`).
    #[arg(long, value_name = "FILE")]
    pub kek_backup: PathBuf,
    /// A backup share (`khs1-…`); repeat for each.
    #[arg(long = "share", value_name = "SHARE")]
    pub shares: Vec<String>,
    /// A file with backup shares, one per line.
    #[arg(long, value_name = "FILE")]
    pub shares_file: Option<PathBuf>,
    /// The recipient's RSA private key (PKCS#8 PEM), for backups made with --recipient.
    #[arg(long, value_name = "FILE")]
    pub private_key: Option<PathBuf>,
}

/// `backup verify`.
#[derive(Debug, Args)]
pub struct BackupVerifyArgs {
    /// Artifacts and secret (without a secret only the headers and their pairing are checked).
    #[command(flatten)]
    pub input: BackupInputArgs,
}

/// `backup restore`.
#[derive(Debug, Args)]
pub struct BackupRestoreArgs {
    /// Artifacts and secret.
    #[command(flatten)]
    pub input: BackupInputArgs,
}

/// `backup recover-key`.
#[derive(Debug, Args)]
pub struct BackupRecoverKeyArgs {
    /// The id of the key to recover.
    pub key: keyhold_core::ids::KeyId,
    /// Artifacts and secret.
    #[command(flatten)]
    pub input: BackupInputArgs,
}

/// `tenant …`.
#[derive(Debug, Subcommand)]
pub enum TenantCommand {
    /// Create a tenant with its own key-encryption key.
    Create {
        /// The tenant id: 1 to 63 of a-z 0-9 -.
        #[arg(value_parser = parse::tenant, value_name = "ID")]
        id: TenantId,
    },
    /// List tenants.
    List,
    /// Disable a tenant: its principals can no longer authenticate.
    Disable {
        /// The tenant.
        #[arg(value_parser = parse::tenant, value_name = "ID")]
        id: TenantId,
    },
    /// Enable a disabled tenant.
    Enable {
        /// The tenant.
        #[arg(value_parser = parse::tenant, value_name = "ID")]
        id: TenantId,
    },
}

/// `trust-anchor …`.
#[derive(Debug, Subcommand)]
pub enum TrustAnchorCommand {
    /// Trust a CA certificate (PEM): a client certificate it issued authenticates as the
    /// principal named by its common name, with these roles, in the tenant.
    Add {
        /// The CA certificate, PEM.
        #[arg(long, value_name = "FILE")]
        ca: PathBuf,
        /// The tenant (default: yours; administrators of the default tenant may name any).
        #[arg(long, value_parser = parse::tenant)]
        tenant: Option<TenantId>,
        /// admin, key-manager, key-user or auditor; repeat for several.
        #[arg(long = "role", value_parser = parse::role, required = true)]
        roles: Vec<Role>,
        /// Allow key-manager and key-user together (waives separation of duties).
        #[arg(long)]
        allow_combined_duties: bool,
        /// Free text.
        #[arg(long, default_value = "")]
        description: String,
    },
    /// List trust anchors (removed ones included).
    List {
        /// The tenant (default: yours).
        #[arg(long, value_parser = parse::tenant)]
        tenant: Option<TenantId>,
    },
    /// Stop trusting an anchor.
    Remove {
        /// Its id, as `list` shows it.
        #[arg(value_name = "ID")]
        id: String,
    },
}
