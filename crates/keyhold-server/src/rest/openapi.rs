//! The OpenAPI document, generated from the handlers' annotations and the core's types.

use axum::Json;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::RefOr;
use utoipa::{Modify, OpenApi};

use super::handlers;

/// The API description served at `/v1/openapi.json`.
#[derive(OpenApi)]
#[openapi(
    info(title = "Keyhold", description = "Keyhold key management system: REST/JSON API"),
    paths(
        handlers::health, handlers::unseal, handlers::metrics,
        handlers::create_key, handlers::list_keys, handlers::describe_key, handlers::update_key,
        handlers::rotate_key, handlers::change_state, handlers::import_parameters, handlers::import_key,
        handlers::public_key, handlers::derive_key, handlers::export_key, handlers::encrypt, handlers::decrypt, handlers::reencrypt, handlers::datakey,
        handlers::sign, handlers::verify, handlers::mac, handlers::mac_verify, handlers::random,
        handlers::list_aliases, handlers::create_alias, handlers::delete_alias,
        handlers::list_tokens, handlers::create_token, handlers::revoke_token,
        handlers::list_grants, handlers::create_grant, handlers::revoke_grant,
        handlers::audit_verify, handlers::audit_events, handlers::audit_checkpoint, handlers::audit_checkpoint_key, handlers::whoami, handlers::rotate_root, handlers::report,
        handlers::rekey_unseal,
        handlers::add_client_cert, handlers::list_client_certs, handlers::revoke_client_cert,
        handlers::create_tenant, handlers::list_tenants, handlers::disable_tenant, handlers::enable_tenant,
        handlers::add_trust_anchor, handlers::list_trust_anchors, handlers::remove_trust_anchor,
        handlers::list_approvals, handlers::show_approval, handlers::approve, handlers::reject,
        handlers::get_approval_policy, handlers::set_approval_policy, handlers::get_duties,
        handlers::set_duties, handlers::tenant_policy_history, handlers::tenant_policy_revert,
        handlers::key_policy_history, handlers::key_policy_revert,
        handlers::kmip,
        crate::backup::create_backup, crate::backup::restore_backup, crate::backup::recover_key,
    ),
    components(schemas(
        super::error::ErrorBody,
        keyhold_core::ErrorCode,
        // Named by query parameters only, which do not collect their schemas.
        keyhold_core::policy::ApprovalStatus,
        keyhold_core::ops::ReportKind,
    )),
    modifiers(&BearerAuth, &ResponseDescriptions),
    // A request without an Authorization header on a mutual-TLS connection is authenticated by
    // its client certificate (pinned, or issued under a trust anchor).
    security(("bearer" = [])),
)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// Gives every response without a description one (OpenAPI requires it; `responses((status =
/// 200, body = …))` makes none): what the status means here.
struct ResponseDescriptions;

impl Modify for ResponseDescriptions {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        for item in openapi.paths.paths.values_mut() {
            let operations = [
                &mut item.get,
                &mut item.put,
                &mut item.post,
                &mut item.delete,
                &mut item.options,
                &mut item.head,
                &mut item.patch,
                &mut item.trace,
                &mut item.query,
            ];
            let operations = operations
                .into_iter()
                .flatten()
                .chain(item.additional_operations.values_mut());
            for op in operations {
                for (status, response) in op.responses.responses.iter_mut() {
                    if let RefOr::T(r) = response {
                        if r.description.is_empty() {
                            r.description = describe(status).to_owned();
                        }
                    }
                }
            }
        }
    }
}

/// The default description of a response status.
fn describe(status: &str) -> &'static str {
    match status {
        "200" => "Success.",
        "202" => "Held for approval (`approval_required`, with the pending `approval_id`).",
        "400" => "The request is malformed or invalid.",
        "401" => "No valid credential.",
        "403" => "The caller may not do this.",
        "404" => "No such object in the caller's tenant.",
        "409" => "Conflicts with the object's state.",
        "413" => "The request body is over the limit.",
        "503" => "The server is sealed.",
        s if s.starts_with('2') => "Success.",
        s if s.starts_with('4') => "Refused; the body says why.",
        _ => "Failed; the body says why.",
    }
}

/// `GET /v1/openapi.json`.
pub async fn serve() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use serde_json::Value;
    use utoipa::OpenApi;

    use super::ApiDoc;

    fn document() -> Value {
        serde_json::to_value(ApiDoc::openapi()).unwrap()
    }

    /// Every `$ref` in `v`, with where it was found.
    fn refs<'a>(v: &'a Value, at: String, out: &mut Vec<(String, &'a str)>) {
        match v {
            Value::Object(m) => {
                for (k, x) in m {
                    match (k.as_str(), x) {
                        ("$ref", Value::String(r)) => out.push((at.clone(), r)),
                        _ => refs(x, format!("{at}/{k}"), out),
                    }
                }
            }
            Value::Array(a) => {
                for (i, x) in a.iter().enumerate() {
                    refs(x, format!("{at}/{i}"), out);
                }
            }
            _ => {}
        }
    }

    #[test]
    fn every_reference_resolves() {
        let doc = document();
        let mut found = Vec::new();
        refs(&doc, String::new(), &mut found);
        assert!(!found.is_empty());
        let dangling: Vec<_> = found
            .iter()
            .filter(|(_, r)| {
                r.strip_prefix('#')
                    .and_then(|pointer| doc.pointer(pointer))
                    .is_none()
            })
            .collect();
        assert!(dangling.is_empty(), "dangling $refs: {dangling:#?}");
    }

    #[test]
    fn every_response_has_a_description() {
        let doc = document();
        let mut missing = Vec::new();
        for (path, item) in doc["paths"].as_object().unwrap() {
            for (method, op) in item.as_object().unwrap() {
                let Some(responses) = op.get("responses").and_then(Value::as_object) else {
                    continue;
                };
                assert!(!responses.is_empty(), "{method} {path} has no responses");
                for (status, r) in responses {
                    if r.get("$ref").is_some() {
                        continue;
                    }
                    let ok = r["description"].as_str().is_some_and(|d| !d.is_empty());
                    if !ok {
                        missing.push(format!("{method} {path} {status}"));
                    }
                }
            }
        }
        assert!(
            missing.is_empty(),
            "responses without description: {missing:#?}"
        );
    }

    /// A parameter is `in: path` exactly when the path template names it (and then required);
    /// the rest are query parameters.
    #[test]
    fn parameters_are_where_the_router_reads_them() {
        let doc = document();
        let mut wrong = Vec::new();
        for (path, item) in doc["paths"].as_object().unwrap() {
            for (method, op) in item.as_object().unwrap() {
                let Some(params) = op.get("parameters").and_then(Value::as_array) else {
                    continue;
                };
                for p in params {
                    let name = p["name"].as_str().unwrap();
                    let place = p["in"].as_str().unwrap();
                    let templated = path.contains(&format!("{{{name}}}"));
                    let fine = match place {
                        "path" => templated && p["required"] == true,
                        "query" => !templated,
                        _ => false,
                    };
                    if !fine {
                        wrong.push(format!("{method} {path}: {name} in {place}"));
                    }
                }
            }
        }
        assert!(wrong.is_empty(), "misplaced parameters: {wrong:#?}");
        // The listing's filters are optional query parameters.
        let list = &doc["paths"]["/v1/keys"]["get"]["parameters"];
        for name in [
            "state",
            "algorithm",
            "tag",
            "name_prefix",
            "limit",
            "page_token",
        ] {
            let p = list
                .as_array()
                .unwrap()
                .iter()
                .find(|p| p["name"] == name)
                .unwrap_or_else(|| panic!("GET /v1/keys lacks {name}"));
            assert_eq!(p["in"], "query", "{name}");
            assert_ne!(p["required"], true, "{name}");
        }
    }

    /// The document passes `openapi-spec-validator`, when a Python with it is at hand:
    /// `./scripts/test.sh` installs it into its venv and exports `KEYHOLD_PYTHON`.
    #[test]
    fn the_document_passes_openapi_spec_validator() {
        let Some(python) = std::env::var_os("KEYHOLD_PYTHON") else {
            eprintln!("KEYHOLD_PYTHON is not set; skipping openapi-spec-validator (run ./scripts/test.sh)");
            return;
        };
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("openapi.json");
        std::fs::write(&file, serde_json::to_vec(&document()).unwrap()).unwrap();
        let out = std::process::Command::new(python)
            .args(["-m", "openapi_spec_validator"])
            .arg(&file)
            .output()
            .expect("run KEYHOLD_PYTHON");
        assert!(
            out.status.success(),
            "openapi-spec-validator refused the document:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
