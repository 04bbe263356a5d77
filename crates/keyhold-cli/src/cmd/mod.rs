//! One module per group of commands; [`run`] dispatches.

mod admin;
mod approvals;
mod audit_file;
mod backup;
mod crypto;
mod files;
mod keys;
mod sys;

use std::process::ExitCode;

use crate::args::Command;
use crate::error::CliError;
use crate::output::Ctx;

/// Runs a client command against the server.
pub async fn run(ctx: &Ctx, command: Command) -> Result<ExitCode, CliError> {
    match command {
        Command::Status => sys::status(ctx).await,
        Command::Unseal(a) => sys::unseal(ctx, a).await,
        Command::Whoami => sys::whoami(ctx).await,
        Command::Root(crate::args::RootCommand::Rotate) => sys::rotate_root(ctx).await,
        Command::Root(crate::args::RootCommand::Rekey { shares, threshold }) => {
            sys::rekey_unseal(ctx, shares, threshold).await
        }
        Command::Key(c) => keys::run(ctx, c).await,
        Command::Encrypt(a) => crypto::encrypt(ctx, a).await,
        Command::Decrypt(a) => crypto::decrypt(ctx, a).await,
        Command::Reencrypt(a) => crypto::reencrypt(ctx, a).await,
        Command::Datakey(a) => crypto::datakey(ctx, a).await,
        Command::Sign(a) => crypto::sign(ctx, a).await,
        Command::Verify(a) => crypto::verify(ctx, a).await,
        Command::Mac(a) => crypto::mac(ctx, a).await,
        Command::MacVerify(a) => crypto::mac_verify(ctx, a).await,
        Command::Random(a) => crypto::random(ctx, a).await,
        Command::Token(c) => admin::token(ctx, c).await,
        Command::Grant(c) => admin::grant(ctx, c).await,
        Command::Policy(c) => approvals::policy(ctx, c).await,
        Command::Approval(c) => approvals::approval(ctx, c).await,
        Command::Duties(c) => approvals::duties(ctx, c).await,
        Command::KmipClient(c) => admin::kmip_client(ctx, c).await,
        Command::Tenant(c) => admin::tenant(ctx, c).await,
        Command::TrustAnchor(c) => admin::trust_anchor(ctx, c).await,
        Command::Audit(c) => admin::audit(ctx, c).await,
        Command::Report(a) => admin::report(ctx, a).await,
        Command::EncryptFile(a) => files::encrypt_file(ctx, a).await,
        Command::DecryptFile(a) => files::decrypt_file(ctx, a).await,
        Command::Backup(c) => backup::run(ctx, c).await,
        // Dispatched in main, on their own runtime, before a client is built.
        Command::Serve(_) | Command::Init(_) => Ok(ExitCode::SUCCESS),
    }
}
