//! Bad input over raw HTTPS gets a clear JSON error and the server stays up.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::process::Command;

use serde_json::{json, Value};
use support::{Server, TempDir};

#[test]
fn bad_input_gets_clear_errors_and_the_server_stays_up() {
    let dir = TempDir::new("bad");
    let mut s = Server::dev(&dir.0);
    let admin = s.admin_token();
    let manager = s.token(&admin, "m", "key-manager");
    let user = s.token(&admin, "u", "key-user");
    let http = s.http();
    let post = |path: &str, token: &str, body: reqwest::blocking::Body| {
        http.post(s.url(path))
            .bearer_auth(token)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .unwrap()
    };
    let check = |r: reqwest::blocking::Response, status: u16, code: &str| {
        assert_eq!(r.status().as_u16(), status);
        let id = r.headers()["x-request-id"].to_str().unwrap().to_owned();
        assert!(!id.is_empty());
        let body: Value = r.json().unwrap();
        assert_eq!(body["code"], code, "{body}");
        assert!(!body["message"].as_str().unwrap().is_empty());
        // The body names the request of the header, for errors raised before the core runs too.
        assert_eq!(body["request_id"], id.as_str(), "{body}");
    };

    check(
        post("/v1/keys", &manager, "{not json".into()),
        400,
        "malformed_request",
    );
    check(
        post("/v1/keys", &manager, r#"{"algorithm":"aes-257"}"#.into()),
        400,
        "malformed_request",
    );
    check(
        post(
            "/v1/keys",
            &manager,
            r#"{"algorithm":"aes-256","surprise":1}"#.into(),
        ),
        400,
        "malformed_request",
    );
    check(
        post("/v1/keys", &manager, vec![b'x'; 2 * 1024 * 1024].into()),
        413,
        "payload_too_large",
    );
    check(
        post("/v1/keys", "kh_wrong", r#"{"algorithm":"aes-256"}"#.into()),
        401,
        "unauthenticated",
    );
    check(
        http.get(s.url("/v1/nowhere")).send().unwrap(),
        404,
        "not_found",
    );
    // No content type, a bad query, a path that is not UTF-8, a method not allowed, an
    // oversized KMIP body (axum's own rejections, rewritten as JSON errors).
    check(
        http.post(s.url("/v1/keys"))
            .bearer_auth(&manager)
            .body(r#"{"algorithm":"aes-256"}"#)
            .send()
            .unwrap(),
        400,
        "malformed_request",
    );
    check(
        http.get(s.url("/v1/keys?limit=many"))
            .bearer_auth(&manager)
            .send()
            .unwrap(),
        400,
        "malformed_request",
    );
    check(
        http.get(s.url("/v1/keys/%FF%FE"))
            .bearer_auth(&manager)
            .send()
            .unwrap(),
        400,
        "malformed_request",
    );
    check(
        http.put(s.url("/v1/keys")).send().unwrap(),
        405,
        "malformed_request",
    );
    check(
        http.post(s.url("/kmip"))
            .bearer_auth(&manager)
            .header("content-type", "application/octet-stream")
            .body(vec![0u8; 2 * 1024 * 1024])
            .send()
            .unwrap(),
        413,
        "payload_too_large",
    );

    let ec: Value = post(
        "/v1/keys",
        &manager,
        r#"{"algorithm":"ec-p256","name":"ec"}"#.into(),
    )
    .json()
    .unwrap();
    let aes: Value = post(
        "/v1/keys",
        &manager,
        r#"{"algorithm":"aes-256","name":"aes"}"#.into(),
    )
    .json()
    .unwrap();
    for k in [&ec, &aes] {
        let body =
            json!({"key": k["id"], "grantee": "u", "operations": ["encrypt", "decrypt", "sign"]});
        assert!(post("/v1/grants", &manager, body.to_string().into())
            .status()
            .is_success());
    }
    // Wrong key usage.
    check(
        post(
            "/v1/keys/ec/encrypt",
            &user,
            r#"{"plaintext":"aGk="}"#.into(),
        ),
        400,
        "wrong_key_usage",
    );
    // Tampered ciphertext.
    let enc: Value = post(
        "/v1/keys/aes/encrypt",
        &user,
        r#"{"plaintext":"aGk="}"#.into(),
    )
    .json()
    .unwrap();
    let mut ct = base64_decode(enc["ciphertext"].as_str().unwrap());
    let last = ct.len() - 1;
    ct[last] ^= 1;
    let body = json!({"ciphertext": base64_encode(&ct)});
    check(
        post("/v1/decrypt", &user, body.to_string().into()),
        400,
        "invalid_ciphertext",
    );
    check(
        post("/v1/decrypt", &user, r#"{"ciphertext":"!!!"}"#.into()),
        400,
        "malformed_request",
    );
    check(
        post("/v1/decrypt", &user, r#"{"ciphertext":"AAAA"}"#.into()),
        400,
        "invalid_ciphertext",
    );
    // Unknown key, and a key-user touching management.
    check(
        post(
            "/v1/keys/nope/encrypt",
            &user,
            r#"{"plaintext":"aGk="}"#.into(),
        ),
        404,
        "not_found",
    );
    check(
        post("/v1/keys/aes/rotate", &user, "{}".into()),
        403,
        "permission_denied",
    );
    // Invalid state.
    assert!(post(
        "/v1/keys/aes/lifecycle",
        &manager,
        r#"{"action":"suspend"}"#.into()
    )
    .status()
    .is_success());
    check(
        post(
            "/v1/keys/aes/encrypt",
            &user,
            r#"{"plaintext":"aGk="}"#.into(),
        ),
        409,
        "invalid_key_state",
    );

    // Still up, and the OpenAPI document and metrics are served.
    assert!(s.is_running());
    let health: Value = http
        .get(s.url("/v1/health"))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(health["status"], "ok");
    let api: Value = http
        .get(s.url("/v1/openapi.json"))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert!(api["paths"]["/v1/keys/{key}/encrypt"].is_object());
    let metrics = http.get(s.url("/metrics")).send().unwrap().text().unwrap();
    assert!(metrics.contains("keyhold_requests_total"), "{metrics}");
}

fn base64_decode(s: &str) -> Vec<u8> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.decode(s).unwrap()
}

fn base64_encode(b: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(b)
}

/// Clients sending a body over `limits.max_body_bytes` read the `413` JSON error instead of a
/// broken pipe (HTTP/1.1) or a reset stream (HTTP/2): the server reads and discards the rest of
/// the body before answering.
#[test]
fn oversized_bodies_get_the_413_error_over_http1_and_http2() {
    let dir = TempDir::new("big");
    let s = Server::dev(&dir.0);
    let admin = s.admin_token();
    let manager = s.token(&admin, "m", "key-manager");
    let auth = format!("authorization: Bearer {manager}");
    for mib in [2usize, 8] {
        let body = dir.0.join(format!("body-{mib}"));
        std::fs::write(&body, vec![b' '; mib * 1024 * 1024]).unwrap();
        for proto in ["--http1.1", "--http2"] {
            let headers = dir.0.join("headers");
            let answer = dir.0.join("answer");
            let out = Command::new("curl")
                .args(["-sS", proto, "--cacert"])
                .arg(&s.ca)
                .args(["-H", &auth, "-H", "content-type: application/json"])
                .arg("--data-binary")
                .arg(format!("@{}", body.display()))
                .arg("-D")
                .arg(&headers)
                .arg("-o")
                .arg(&answer)
                .args(["-w", "%{http_code} %{http_version}"])
                .arg(s.url("/v1/keys"))
                .output()
                .expect("curl is needed by this test");
            let written = String::from_utf8_lossy(&out.stdout).into_owned();
            assert!(
                out.status.success(),
                "curl {proto} with {mib} MiB: {} {written}\n{}",
                out.status,
                String::from_utf8_lossy(&out.stderr)
            );
            let want = if proto == "--http2" {
                "413 2"
            } else {
                "413 1.1"
            };
            assert_eq!(written, want, "curl {proto} with {mib} MiB");
            let body: Value = serde_json::from_slice(&std::fs::read(&answer).unwrap()).unwrap();
            assert_eq!(body["code"], "payload_too_large", "{body}");
            let headers = std::fs::read_to_string(&headers).unwrap();
            let id = headers
                .lines()
                .find_map(|l| {
                    let (name, value) = l.split_once(':')?;
                    name.eq_ignore_ascii_case("x-request-id")
                        .then(|| value.trim().to_owned())
                })
                .unwrap();
            assert_eq!(body["request_id"], id.as_str());
        }
    }
    // The connection-level cleanup left the server serving.
    let created = s.json(&manager, &["key", "create", "--alg", "aes-256"]);
    assert!(created["id"].is_string(), "{created}");
}

/// A client that completes the TLS handshake and then sends nothing is disconnected once the
/// header timeout (here 1 s) passes, over either protocol it negotiated, instead of holding a
/// connection slot for an hour.
#[test]
fn a_connection_that_sends_nothing_is_closed_after_the_header_timeout() {
    use std::io::Read;
    use std::time::{Duration, Instant};

    let dir = TempDir::new("silent");
    std::fs::write(
        dir.0.join("keyhold.toml"),
        "[limits]\nheader_timeout = \"1s\"\n",
    )
    .unwrap();
    let s = Server::dev(&dir.0);
    for alpn in [&b"http/1.1"[..], b"h2"] {
        let name = String::from_utf8_lossy(alpn);
        let mut tls = tls_connect(&s, alpn);
        let start = Instant::now();
        let mut buf = [0u8; 1];
        let read = tls.read(&mut buf);
        let waited = start.elapsed();
        assert!(
            is_closed(&read),
            "{name}: still open after {waited:?} ({read:?})"
        );
        assert!(
            waited < Duration::from_secs(5),
            "{name}: closed after {waited:?}"
        );
    }
    // A client that does send its request is served.
    let health: Value = s
        .http()
        .get(s.url("/v1/health"))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(health["status"], "ok");
}

/// An HTTP/1.1 keep-alive connection with no request in flight is closed once the idle timeout
/// (here 2 s) has passed since its last answer, not held for the hour-long guard.
#[test]
fn an_idle_keep_alive_connection_is_closed_after_the_idle_timeout() {
    use std::io::{Read, Write};
    use std::time::{Duration, Instant};

    let dir = TempDir::new("idle");
    std::fs::write(
        dir.0.join("keyhold.toml"),
        "[limits]\nidle_timeout = \"2s\"\n",
    )
    .unwrap();
    let s = Server::dev(&dir.0);
    let mut tls = tls_connect(&s, b"http/1.1");
    // Two requests on the connection, the second after a pause shorter than the timeout.
    for pause in [Duration::ZERO, Duration::from_millis(1200)] {
        std::thread::sleep(pause);
        tls.write_all(b"GET /v1/health HTTP/1.1\r\nHost: keyhold\r\n\r\n")
            .unwrap();
        let mut answer = Vec::new();
        let mut buf = [0u8; 4096];
        while !answer.ends_with(b"}") {
            let n = tls.read(&mut buf).unwrap();
            assert!(n > 0, "closed while answering");
            answer.extend_from_slice(&buf[..n]);
        }
        assert!(answer.starts_with(b"HTTP/1.1 200"), "{answer:?}");
    }
    let start = Instant::now();
    let mut buf = [0u8; 1];
    let read = tls.read(&mut buf);
    let waited = start.elapsed();
    assert!(is_closed(&read), "still open after {waited:?} ({read:?})");
    assert!(
        waited >= Duration::from_millis(1500),
        "closed before the idle timeout: {waited:?}"
    );
}

/// A TLS connection to `s` that negotiated `alpn`, with a 10 s read timeout.
fn tls_connect(
    s: &Server,
    alpn: &[u8],
) -> rustls::StreamOwned<rustls::ClientConnection, std::net::TcpStream> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, ServerName};
    use std::sync::Arc;

    let mut roots = rustls::RootCertStore::empty();
    for c in CertificateDer::pem_file_iter(&s.ca).unwrap() {
        roots.add(c.unwrap()).unwrap();
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![alpn.to_vec()];
    let conn =
        rustls::ClientConnection::new(Arc::new(config), ServerName::try_from("127.0.0.1").unwrap())
            .unwrap();
    let host_port = s.addr.trim_start_matches("https://").to_owned();
    let sock = std::net::TcpStream::connect(&host_port).unwrap();
    sock.set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .unwrap();
    let mut tls = rustls::StreamOwned::new(conn, sock);
    while tls.conn.is_handshaking() {
        tls.conn.complete_io(&mut tls.sock).unwrap();
    }
    assert_eq!(tls.conn.alpn_protocol(), Some(alpn));
    tls
}

/// Whether a read says the server closed the connection (not a client-side read timeout).
fn is_closed(read: &std::io::Result<usize>) -> bool {
    match read {
        Ok(0) => true,
        Ok(_) => false,
        Err(e) => !matches!(
            e.kind(),
            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
        ),
    }
}

/// A request refused before it became an operation (a body or query that does not decode, an
/// unknown endpoint, a method not allowed) is in the audit trail under the caller its token
/// names, with its error code and request id; the event names the endpoint, never the body.
/// A refusal by the core is audited once, by the core.
#[test]
fn requests_refused_while_decoding_are_audited() {
    let dir = TempDir::new("rejaudit");
    let s = Server::dev(&dir.0);
    let admin = s.admin_token();
    let user = s.token(&admin, "u", "key-user");
    let auditor = s.token(&admin, "a", "auditor");
    let http = s.http();
    let request_id = |r: reqwest::blocking::Response, status: u16| {
        assert_eq!(r.status().as_u16(), status);
        r.headers()["x-request-id"].to_str().unwrap().to_owned()
    };
    let secret = "do-not-log-this-value";
    let malformed = request_id(
        http.post(s.url("/v1/keys/some-key/encrypt"))
            .bearer_auth(&user)
            .header("content-type", "application/json")
            .body(format!(r#"{{"plaintext": 7, "context": "{secret}"}}"#))
            .send()
            .unwrap(),
        400,
    );
    let bad_query = request_id(
        http.get(s.url("/v1/keys?limit=lots"))
            .bearer_auth(&user)
            .send()
            .unwrap(),
        400,
    );
    let unknown = request_id(
        http.get(s.url("/v1/nowhere"))
            .bearer_auth(&user)
            .send()
            .unwrap(),
        404,
    );
    let anonymous = request_id(http.delete(s.url("/v1/keys")).send().unwrap(), 405);
    // Refused by the core: audited there, once.
    let core = request_id(
        http.post(s.url("/v1/keys/missing/encrypt"))
            .bearer_auth(&user)
            .header("content-type", "application/json")
            .body(r#"{"plaintext": "aGk="}"#)
            .send()
            .unwrap(),
        404,
    );

    let r = http
        .get(s.url("/v1/audit/events?limit=1000"))
        .bearer_auth(&auditor)
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let text = r.text().unwrap();
    assert!(
        !text.contains(secret),
        "a request body reached the audit trail"
    );
    let body: Value = serde_json::from_str(&text).unwrap();
    let events = body["events"].as_array().unwrap();
    let of =
        |id: &str| -> Vec<&Value> { events.iter().filter(|e| e["request_id"] == id).collect() };
    for (id, code, principal, detail) in [
        (
            &malformed,
            "malformed_request",
            "u",
            "POST /v1/keys/{key}/encrypt",
        ),
        (&bad_query, "malformed_request", "u", "GET /v1/keys"),
        (&unknown, "not_found", "u", "GET /v1/nowhere"),
        (
            &anonymous,
            "malformed_request",
            "anonymous",
            "DELETE /v1/keys",
        ),
    ] {
        let found = of(id);
        assert_eq!(found.len(), 1, "{id}: {found:?}");
        let e = found[0];
        assert_eq!(e["action"], "request.rejected", "{e}");
        assert_eq!(e["outcome"], "error", "{e}");
        assert_eq!(e["error_code"], code, "{e}");
        assert_eq!(e["principal"], principal, "{e}");
        assert_eq!(e["protocol"], "rest", "{e}");
        assert_eq!(e["detail"], detail, "{e}");
    }
    let found = of(&core);
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0]["action"], "encrypt");

    assert_eq!(s.json(&auditor, &["audit", "verify"])["ok"], true);
}
