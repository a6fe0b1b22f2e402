//! MFA: enrolment, the login challenge, inline codes, replay and skew, backup codes, lockout,
//! disable, admin reset, the `required` policy and the hosted step. Codes come from the TOTP
//! implementation below (RFC 6238 over aws-lc's HMAC-SHA1), not from the server's own code.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_lc_rs::hmac;
use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{ADMIN_KEY, Backend, PASSWORD, TestApp, assert_error, backend_tests};
use crate::oauth_support::{Browser, as_refs, authorization_params, create_client, token_request};

/// RFC 4648 base32 (no padding), as authenticator apps read the `secret`.
fn base32_decode(text: &str) -> Vec<u8> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let (mut bits, mut value, mut out) = (0u32, 0u32, Vec::new());
    for c in text.trim_end_matches('=').bytes() {
        let index = ALPHABET.iter().position(|&a| a == c.to_ascii_uppercase()).expect("a base32 character");
        value = (value << 5) | index as u32;
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push((value >> bits) as u8);
            value &= (1 << bits) - 1;
        }
    }
    out
}

/// RFC 6238 TOTP (HOTP of RFC 4226 §5.3 over the 30-second step), SHA-1, 6 digits.
fn totp(secret: &[u8], step: u64) -> String {
    let key = hmac::Key::new(hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, secret);
    let mac = hmac::sign(&key, &step.to_be_bytes());
    let mac = mac.as_ref();
    let offset = usize::from(mac[19] & 0x0f);
    let binary = u32::from_be_bytes([mac[offset] & 0x7f, mac[offset + 1], mac[offset + 2], mac[offset + 3]]);
    format!("{:06}", binary % 1_000_000)
}

fn unix_now() -> f64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs_f64()
}

fn current_step() -> u64 {
    (unix_now() / 30.0) as u64
}

#[test]
fn the_test_totp_matches_rfc_6238_appendix_b() {
    // SHA-1 vectors, truncated to the 6 digits ovlt uses (the RFC lists 8).
    let secret = b"12345678901234567890";
    assert_eq!(totp(secret, 59 / 30), "287082");
    assert_eq!(totp(secret, 1_111_111_109 / 30), "081804");
    assert_eq!(totp(secret, 2_000_000_000 / 30), "279037");
    assert_eq!(base32_decode("GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"), secret.to_vec());
}

/// A user's authenticator app: the secret, and the last step it handed out, so every code it
/// gives is for a later step than the one before (the server refuses a step twice).
pub(crate) struct Authenticator {
    secret: Vec<u8>,
    last_step: Option<u64>,
}

impl Authenticator {
    pub(crate) fn new(base32_secret: &str) -> Self {
        Self { secret: base32_decode(base32_secret), last_step: None }
    }

    /// A code the server accepts now: the earliest step after the last one used that is inside
    /// the server's ±1 window. The previous step is used only while the current one has more than
    /// ten seconds to run, so no step boundary passes before the code is used; only a fourth code
    /// within one 30-second step waits for the clock.
    pub(crate) async fn next_code(&mut self) -> String {
        let now = current_step();
        let earliest = if unix_now() % 30.0 < 20.0 { now - 1 } else { now };
        let step = self.last_step.map_or(earliest, |last| (last + 1).max(earliest));
        if step > now + 1 {
            let wait = (step - 1) as f64 * 30.0 - unix_now();
            tokio::time::sleep(Duration::from_secs_f64(wait.max(0.0) + 0.05)).await;
        }
        self.last_step = Some(step);
        totp(&self.secret, step)
    }

    /// The code of the step the server accepted last: a replay.
    fn last_code(&self) -> String {
        totp(&self.secret, self.last_step.expect("a code was used"))
    }
}

/// A tenant `acme` with `email` registered and signed in: (access token, user id).
async fn user_with_session(app: &TestApp, email: &str) -> (String, String) {
    let (access, _) = app.signed_in("acme", email).await;
    let me: Value =
        app.tenant(Method::GET, "/users/me", "acme").bearer_auth(&access).send().await.unwrap().json().await.unwrap();
    (access, me["id"].as_str().unwrap().to_string())
}

async fn post(app: &TestApp, path: &str, bearer: Option<&str>, body: Value) -> reqwest::Response {
    let mut request = app.tenant(Method::POST, path, "acme").json(&body);
    if let Some(token) = bearer {
        request = request.bearer_auth(token);
    }
    request.send().await.unwrap()
}

/// Enrols the bearer's user: (authenticator, backup codes).
pub(crate) async fn enrol(app: &TestApp, access: &str) -> (Authenticator, Vec<String>) {
    let setup = post(app, "/auth/mfa/setup", Some(access), json!({})).await;
    assert_eq!(setup.status(), 200);
    let setup: Value = setup.json().await.unwrap();
    let mut authenticator = Authenticator::new(setup["secret"].as_str().unwrap());
    let confirmed =
        post(app, "/auth/mfa/confirm", Some(access), json!({ "totp_code": authenticator.next_code().await })).await;
    assert_eq!(confirmed.status(), 200);
    let confirmed: Value = confirmed.json().await.unwrap();
    let codes = confirmed["backup_codes"].as_array().unwrap().iter().map(|c| c.as_str().unwrap().to_string()).collect();
    (authenticator, codes)
}

async fn login(app: &TestApp, email: &str, extra: Value) -> reqwest::Response {
    let mut body = json!({ "email": email, "password": PASSWORD });
    for (key, value) in extra.as_object().unwrap() {
        body[key] = value.clone();
    }
    post(app, "/auth/login", None, body).await
}

/// Logs in up to the challenge and returns the `mfa_token`.
async fn mfa_token(app: &TestApp, email: &str) -> String {
    let answer: Value = login(app, email, json!({})).await.json().await.unwrap();
    assert_eq!(answer["mfa_required"], true, "{answer}");
    assert!(answer.get("access_token").is_none());
    answer["mfa_token"].as_str().unwrap().to_string()
}

async fn me_status(app: &TestApp, access: &str) -> u16 {
    app.tenant(Method::GET, "/users/me", "acme").bearer_auth(access).send().await.unwrap().status().as_u16()
}

async fn audit_count(app: &TestApp, action: &str) -> i64 {
    sqlx::query_scalar("SELECT COUNT(*) FROM audit_log WHERE action = $1")
        .bind(action)
        .fetch_one(app.state.store.pool())
        .await
        .unwrap()
}

async fn enrolment_shows_the_secret_once_and_confirming_turns_mfa_on(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (access, _) = user_with_session(&app, "alice@example.com").await;

    let setup = post(&app, "/auth/mfa/setup", Some(&access), json!({})).await;
    assert_eq!(setup.status(), 200);
    let setup: Value = setup.json().await.unwrap();
    let secret = setup["secret"].as_str().unwrap();
    assert_eq!(base32_decode(secret).len(), 20, "a 160-bit secret");
    assert!(setup["qr_code"].as_str().unwrap().starts_with("data:image/png;base64,iVBOR"), "a PNG data URL");
    let url = url::Url::parse(setup["otpauth_url"].as_str().unwrap()).unwrap();
    assert_eq!((url.scheme(), url.host_str()), ("otpauth", Some("totp")));
    assert!(url.path().contains("alice%40example.com"), "account = email: {url}");
    let query: std::collections::HashMap<_, _> = url.query_pairs().into_owned().collect();
    assert_eq!((query["secret"].as_str(), query["issuer"].as_str()), (secret, "acme"));
    // Sealed at rest: the raw secret is nowhere in the row.
    let stored: Vec<u8> =
        sqlx::query_scalar("SELECT secret FROM mfa_totp").fetch_one(app.state.store.pool()).await.unwrap();
    assert!(!stored.windows(20).any(|w| w == base32_decode(secret)));

    // Pending until confirmed: login still needs no code.
    let me: Value =
        app.tenant(Method::GET, "/users/me", "acme").bearer_auth(&access).send().await.unwrap().json().await.unwrap();
    assert_eq!(me["mfa_enabled"], false);
    assert_error(
        post(&app, "/auth/mfa/confirm", Some(&access), json!({ "totp_code": "000000x" })).await,
        401,
        "invalid_otp",
    )
    .await;
    assert_error(post(&app, "/auth/mfa/confirm", Some(&access), json!({})).await, 400, "invalid_payload").await;

    let mut authenticator = Authenticator::new(secret);
    let confirmed =
        post(&app, "/auth/mfa/confirm", Some(&access), json!({ "totp_code": authenticator.next_code().await })).await;
    assert_eq!(confirmed.status(), 200);
    let confirmed: Value = confirmed.json().await.unwrap();
    let codes: std::collections::BTreeSet<_> =
        confirmed["backup_codes"].as_array().unwrap().iter().map(|c| c.as_str().unwrap()).collect();
    assert_eq!(codes.len(), 10, "ten distinct backup codes");
    let stored: Vec<String> =
        sqlx::query_scalar("SELECT code_hash FROM mfa_backup_codes").fetch_all(app.state.store.pool()).await.unwrap();
    assert!(codes.iter().all(|c| !stored.iter().any(|s| s.contains(&c.replace('-', "")))), "stored hashed");

    let me: Value =
        app.tenant(Method::GET, "/users/me", "acme").bearer_auth(&access).send().await.unwrap().json().await.unwrap();
    assert_eq!(me["mfa_enabled"], true);
    // A working factor is never replaced through a (possibly stolen) access token.
    assert_error(post(&app, "/auth/mfa/setup", Some(&access), json!({})).await, 409, "conflict").await;
    assert_error(
        post(&app, "/auth/mfa/confirm", Some(&access), json!({ "totp_code": authenticator.next_code().await })).await,
        409,
        "conflict",
    )
    .await;
    assert_eq!(audit_count(&app, "mfa.enabled").await, 1);
}

async fn setup_needs_a_bearer_or_an_enrolment_token_and_a_tenant_that_allows_mfa(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (access, _) = user_with_session(&app, "alice@example.com").await;
    assert_error(post(&app, "/auth/mfa/setup", None, json!({})).await, 401, "invalid_token").await;
    assert_error(post(&app, "/auth/mfa/setup", None, json!({ "mfa_token": "forged" })).await, 401, "invalid_token")
        .await;
    assert_error(
        post(&app, "/auth/mfa/confirm", Some(&access), json!({ "totp_code": "123456" })).await,
        400,
        "invalid_payload",
    )
    .await;
    app.set_settings("acme", json!({ "mfa_policy": "off" })).await;
    assert_error(post(&app, "/auth/mfa/setup", Some(&access), json!({})).await, 403, "forbidden").await;
}

async fn login_with_mfa_answers_a_token_and_the_challenge_finishes_it(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (access, _) = user_with_session(&app, "alice@example.com").await;
    let (mut authenticator, _) = enrol(&app, &access).await;

    let token = mfa_token(&app, "alice@example.com").await;
    // An email and a code never authenticate without the token the password step gave.
    let code = authenticator.next_code().await;
    assert_error(
        post(&app, "/auth/mfa/challenge", None, json!({ "email": "alice@example.com", "totp_code": code })).await,
        400,
        "invalid_payload",
    )
    .await;
    assert_error(
        post(&app, "/auth/mfa/challenge", None, json!({ "mfa_token": "not-a-token", "totp_code": code })).await,
        401,
        "invalid_token",
    )
    .await;
    // The token is bound to its user.
    assert_error(
        post(
            &app,
            "/auth/mfa/challenge",
            None,
            json!({ "mfa_token": token, "email": "bob@example.com", "totp_code": code }),
        )
        .await,
        401,
        "invalid_token",
    )
    .await;
    // A wrong code does not consume the token.
    let wrong = if code == "000000" { "111111" } else { "000000" };
    assert_error(
        post(&app, "/auth/mfa/challenge", None, json!({ "mfa_token": token, "totp_code": wrong })).await,
        401,
        "invalid_otp",
    )
    .await;

    let answer = post(
        &app,
        "/auth/mfa/challenge",
        None,
        json!({ "mfa_token": token, "email": "Alice@Example.com", "totp_code": code }),
    )
    .await;
    assert_eq!(answer.status(), 200);
    let tokens: Value = answer.json().await.unwrap();
    assert_eq!(me_status(&app, tokens["access_token"].as_str().unwrap()).await, 200);
    assert!(tokens["refresh_token"].is_string());
    // Consumed by the first success.
    assert_error(
        post(&app, "/auth/mfa/challenge", None, json!({ "mfa_token": token, "totp_code": "123456" })).await,
        401,
        "invalid_token",
    )
    .await;
    let amr: String = sqlx::query_scalar("SELECT amr FROM sessions ORDER BY created_at DESC, id DESC LIMIT 1")
        .fetch_one(app.state.store.pool())
        .await
        .unwrap();
    assert_eq!(amr, "pwd otp mfa");
}

async fn an_inline_code_signs_in_at_once_and_is_refused_on_replay(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (access, _) = user_with_session(&app, "alice@example.com").await;
    let (mut authenticator, _) = enrol(&app, &access).await;

    let code = authenticator.next_code().await;
    let answer = login(&app, "alice@example.com", json!({ "otp": code })).await;
    assert_eq!(answer.status(), 200);
    let tokens: Value = answer.json().await.unwrap();
    assert!(tokens["access_token"].is_string() && tokens.get("mfa_required").is_none());

    // RFC 6238 §5.2: a code that was accepted once is refused, inline or at the challenge.
    assert_error(
        login(&app, "alice@example.com", json!({ "otp": authenticator.last_code() })).await,
        401,
        "invalid_otp",
    )
    .await;
    let token = mfa_token(&app, "alice@example.com").await;
    assert_error(
        post(&app, "/auth/mfa/challenge", None, json!({ "mfa_token": token, "totp_code": authenticator.last_code() }))
            .await,
        401,
        "invalid_otp",
    )
    .await;
    // A wrong password with a right code is still a wrong password.
    let wrong_password = json!({ "email": "alice@example.com", "password": "Wrong1234!", "otp": "123456" });
    assert_error(post(&app, "/auth/login", None, wrong_password).await, 401, "invalid_credentials").await;
    // `totp_code` is the same field.
    let answer = login(&app, "alice@example.com", json!({ "totp_code": authenticator.next_code().await })).await;
    assert_eq!(answer.status(), 200);
}

async fn codes_one_step_either_side_are_accepted_and_further_ones_refused(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (access, _) = user_with_session(&app, "alice@example.com").await;
    let setup: Value = post(&app, "/auth/mfa/setup", Some(&access), json!({})).await.json().await.unwrap();
    let secret = base32_decode(setup["secret"].as_str().unwrap());
    // Well inside a step, so the step the server sees is the one computed here.
    if unix_now() % 30.0 > 27.0 {
        tokio::time::sleep(Duration::from_secs_f64(30.0 - unix_now() % 30.0 + 0.1)).await;
    }
    let now = current_step();
    for far in [now - 2, now + 2, now - 40] {
        assert_error(
            post(&app, "/auth/mfa/confirm", Some(&access), json!({ "totp_code": totp(&secret, far) })).await,
            401,
            "invalid_otp",
        )
        .await;
    }
    // One step behind (a slow typist, a clock a little late) is accepted…
    let confirmed =
        post(&app, "/auth/mfa/confirm", Some(&access), json!({ "totp_code": totp(&secret, now - 1) })).await;
    assert_eq!(confirmed.status(), 200);
    // …and so is one ahead, once.
    assert_eq!(login(&app, "alice@example.com", json!({ "otp": totp(&secret, now + 1) })).await.status(), 200);
    // Now the current step is older than the last accepted one: refused, although in the window.
    assert_error(login(&app, "alice@example.com", json!({ "otp": totp(&secret, now) })).await, 401, "invalid_otp")
        .await;
}

async fn backup_codes_work_once_and_regenerating_kills_the_old_ones(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (access, _) = user_with_session(&app, "alice@example.com").await;
    let (mut authenticator, codes) = enrol(&app, &access).await;

    let token = mfa_token(&app, "alice@example.com").await;
    let answer =
        post(&app, "/auth/mfa/challenge", None, json!({ "mfa_token": token, "backup_code": codes[0].to_uppercase() }))
            .await;
    assert_eq!(answer.status(), 200, "case does not matter");
    let token = mfa_token(&app, "alice@example.com").await;
    assert_error(
        post(&app, "/auth/mfa/challenge", None, json!({ "mfa_token": token, "backup_code": codes[0] })).await,
        401,
        "invalid_otp",
    )
    .await;
    // Inline too, and without the hyphen.
    assert_eq!(
        login(&app, "alice@example.com", json!({ "backup_code": codes[1].replace('-', "") })).await.status(),
        200
    );
    assert_eq!(audit_count(&app, "mfa.backup_code_used").await, 2);

    // Regenerating needs the authenticator, not a backup code.
    assert_error(
        post(&app, "/auth/mfa/backup-codes", Some(&access), json!({ "backup_code": codes[2] })).await,
        400,
        "invalid_payload",
    )
    .await;
    let fresh =
        post(&app, "/auth/mfa/backup-codes", Some(&access), json!({ "totp_code": authenticator.next_code().await }))
            .await;
    assert_eq!(fresh.status(), 200);
    let fresh: Value = fresh.json().await.unwrap();
    let fresh: Vec<&str> = fresh["backup_codes"].as_array().unwrap().iter().map(|c| c.as_str().unwrap()).collect();
    assert_eq!(fresh.len(), 10);
    assert_error(login(&app, "alice@example.com", json!({ "backup_code": codes[2] })).await, 401, "invalid_otp").await;
    assert_eq!(login(&app, "alice@example.com", json!({ "backup_code": fresh[0] })).await.status(), 200);
}

async fn wrong_codes_count_toward_the_lockout_and_kill_the_token_after_five(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (access, _) = user_with_session(&app, "alice@example.com").await;
    let (mut authenticator, _) = enrol(&app, &access).await;
    app.set_settings("acme", json!({ "lockout_threshold": 8 })).await;

    let token = mfa_token(&app, "alice@example.com").await;
    let code = authenticator.next_code().await;
    let wrong = if code == "000000" { "111111" } else { "000000" };
    for _ in 0..5 {
        assert_error(
            post(&app, "/auth/mfa/challenge", None, json!({ "mfa_token": token, "totp_code": wrong })).await,
            401,
            "invalid_otp",
        )
        .await;
    }
    // Dead after five wrong codes, even for the right one.
    assert_error(
        post(&app, "/auth/mfa/challenge", None, json!({ "mfa_token": token, "totp_code": code })).await,
        401,
        "invalid_token",
    )
    .await;
    // 1 password + 5 codes counted; a fresh token buys only what the lockout leaves:
    // two more guesses (7, 8), then even the right code is refused (9 > 8).
    let token = mfa_token(&app, "alice@example.com").await; // 7
    assert_error(
        post(&app, "/auth/mfa/challenge", None, json!({ "mfa_token": token, "totp_code": wrong })).await,
        401,
        "invalid_otp",
    )
    .await; // 8
    let fresh = authenticator.next_code().await;
    assert_error(
        post(&app, "/auth/mfa/challenge", None, json!({ "mfa_token": token, "totp_code": fresh })).await,
        401,
        "invalid_otp",
    )
    .await; // 9
    assert_error(login(&app, "alice@example.com", json!({})).await, 429, "too_many_attempts").await;
    let locked: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM audit_log WHERE action = 'mfa.failed' AND details LIKE '%locked%'")
            .fetch_one(app.state.store.pool())
            .await
            .unwrap();
    assert_eq!(locked, 1, "the right code was refused because of the lockout");
    assert_eq!(audit_count(&app, "mfa.failed").await, 7);
}

async fn disabling_needs_a_code_and_ends_the_other_sessions(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (access, _) = user_with_session(&app, "alice@example.com").await;
    let (mut authenticator, codes) = enrol(&app, &access).await;
    let other: Value = login(&app, "alice@example.com", json!({ "backup_code": codes[0] })).await.json().await.unwrap();
    let other = other["access_token"].as_str().unwrap();

    assert_error(post(&app, "/auth/mfa/disable", Some(&access), json!({})).await, 400, "invalid_payload").await;
    assert_error(
        post(&app, "/auth/mfa/disable", Some(&access), json!({ "totp_code": "12345" })).await,
        401,
        "invalid_otp",
    )
    .await;
    assert_error(post(&app, "/auth/mfa/disable", None, json!({ "totp_code": "123456" })).await, 401, "invalid_token")
        .await;
    let disabled =
        post(&app, "/auth/mfa/disable", Some(&access), json!({ "totp_code": authenticator.next_code().await })).await;
    assert_eq!(disabled.status(), 204);

    assert_eq!(me_status(&app, &access).await, 200, "the session that disabled MFA goes on");
    assert_eq!(me_status(&app, other).await, 401, "every other session ended");
    let tokens: Value = login(&app, "alice@example.com", json!({})).await.json().await.unwrap();
    assert!(tokens["access_token"].is_string(), "the password alone signs in again");
    assert_error(
        post(&app, "/auth/mfa/disable", Some(&access), json!({ "totp_code": "123456" })).await,
        409,
        "conflict",
    )
    .await;
    assert_eq!(audit_count(&app, "mfa.disabled").await, 1);
    // Enrolling again starts from a new secret.
    let setup = post(&app, "/auth/mfa/setup", Some(&access), json!({})).await;
    assert_eq!(setup.status(), 200);
}

async fn an_admin_reset_removes_the_factor_and_ends_every_session(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (access, user_id) = user_with_session(&app, "alice@example.com").await;
    enrol(&app, &access).await;
    let (bob, _) = user_with_session(&app, "bob@example.com").await;
    app.create_tenant("other", "Other").await;

    let path = format!("/users/{user_id}/mfa");
    assert_error(app.tenant(Method::DELETE, &path, "acme").send().await.unwrap(), 401, "unauthorized").await;
    assert_error(app.tenant(Method::DELETE, &path, "acme").bearer_auth(&bob).send().await.unwrap(), 403, "forbidden")
        .await;
    let foreign =
        app.tenant(Method::DELETE, &path, "other").header("x-ovlt-admin-key", ADMIN_KEY).send().await.unwrap();
    assert_error(foreign, 404, "not_found").await;
    let unknown = format!("/users/{}/mfa", uuid::Uuid::now_v7());
    assert_error(
        app.tenant(Method::DELETE, &unknown, "acme").header("x-ovlt-admin-key", ADMIN_KEY).send().await.unwrap(),
        404,
        "not_found",
    )
    .await;

    let reset = app.tenant(Method::DELETE, &path, "acme").header("x-ovlt-admin-key", ADMIN_KEY).send().await.unwrap();
    assert_eq!(reset.status(), 204);
    assert_eq!(me_status(&app, &access).await, 401, "every session of the user ended");
    let tokens: Value = login(&app, "alice@example.com", json!({})).await.json().await.unwrap();
    assert!(tokens["access_token"].is_string());
    let actor: String = sqlx::query_scalar("SELECT actor_type FROM audit_log WHERE action = 'mfa.reset'")
        .fetch_one(app.state.store.pool())
        .await
        .unwrap();
    assert_eq!(actor, "admin_key");
}

async fn the_required_policy_enrols_through_the_login_token(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.create_tenant("acme", "Acme").await;
    app.set_settings("acme", json!({ "mfa_policy": "required" })).await;
    app.register("acme", "alice@example.com").await;

    let answer: Value = login(&app, "alice@example.com", json!({})).await.json().await.unwrap();
    assert_eq!(answer["mfa_setup_required"], true, "{answer}");
    assert!(answer.get("access_token").is_none());
    let token = answer["mfa_token"].as_str().unwrap();
    // An enrolment token is not a challenge token.
    assert_error(
        post(&app, "/auth/mfa/challenge", None, json!({ "mfa_token": token, "totp_code": "123456" })).await,
        401,
        "invalid_token",
    )
    .await;

    let setup: Value = post(&app, "/auth/mfa/setup", None, json!({ "mfa_token": token })).await.json().await.unwrap();
    let mut authenticator = Authenticator::new(setup["secret"].as_str().unwrap());
    let confirmed = post(
        &app,
        "/auth/mfa/confirm",
        None,
        json!({ "mfa_token": token, "totp_code": authenticator.next_code().await }),
    )
    .await;
    assert_eq!(confirmed.status(), 200);
    let confirmed: Value = confirmed.json().await.unwrap();
    assert_eq!(confirmed["backup_codes"].as_array().unwrap().len(), 10);
    assert_eq!(me_status(&app, confirmed["access_token"].as_str().unwrap()).await, 200);
    assert!(confirmed["refresh_token"].is_string());
    // The token is spent, and the next login asks for a code.
    assert_error(post(&app, "/auth/mfa/setup", None, json!({ "mfa_token": token })).await, 401, "invalid_token").await;
    mfa_token(&app, "alice@example.com").await;
}

async fn the_hosted_sign_in_asks_for_the_code_and_the_id_token_says_so(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (access, _) = user_with_session(&app, "alice@example.com").await;
    let (mut authenticator, _) = enrol(&app, &access).await;
    let client = create_client(&app, "acme", json!({})).await;
    let (params, verifier) = authorization_params(&client, "openid email");
    let browser = Browser::new(&app);

    let page = browser.authorize(&as_refs(&params)).await.text().await.unwrap();
    let response = browser.sign_in(&page, "alice@example.com").await;
    assert_eq!(response.status(), 200);
    let page = response.text().await.unwrap();
    assert!(page.contains("action=\"/oauth/mfa\"") && page.contains("Two-step verification"), "{page}");
    assert!(!page.contains(PASSWORD));

    let wrong = browser.submit(&page, "/oauth/mfa", &[("code", "00000x")]).await;
    assert_eq!(wrong.status(), 401);
    let page = wrong.text().await.unwrap();
    assert!(page.contains("not right"), "{page}");
    let code = authenticator.next_code().await;
    let response = browser.submit(&page, "/oauth/mfa", &[("code", &code)]).await;
    assert_eq!(response.status(), 303);
    let redirect = crate::oauth_support::redirect_params(&response);
    let tokens: Value = token_request(
        &app,
        &client,
        &[
            ("grant_type", "authorization_code"),
            ("code", &redirect["code"]),
            ("redirect_uri", crate::oauth_support::REDIRECT_URI),
            ("code_verifier", &verifier),
        ],
    )
    .await
    .json()
    .await
    .unwrap();
    let id_token = tokens["id_token"].as_str().unwrap();
    use base64::Engine;
    let claims: Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(id_token.split('.').nth(1).unwrap()).unwrap(),
    )
    .unwrap();
    assert_eq!(claims["amr"], json!(["pwd", "otp", "mfa"]));
    // The token of the finished step is spent: replaying the form starts over.
    let replay = browser.submit(&page, "/oauth/mfa", &[("code", "123456")]).await;
    assert!(replay.text().await.unwrap().contains("action=\"/oauth/sign-in\""));
}

async fn the_hosted_sign_in_enrols_an_authenticator_when_the_tenant_requires_one(backend: Backend) {
    use crate::oauth_support::{REDIRECT_URI, hidden_fields, redirect_params};
    let app = TestApp::spawn(backend).await;
    app.create_tenant("acme", "Acme").await;
    app.set_settings("acme", json!({ "mfa_policy": "required" })).await;
    app.register("acme", "alice@example.com").await;
    let client = create_client(&app, "acme", json!({})).await;
    let (mut params, verifier) = authorization_params(&client, "openid email");
    params.push(("prompt".into(), "login".into()));
    let browser = Browser::new(&app);

    let page = browser.authorize(&as_refs(&params)).await.text().await.unwrap();
    let response = browser.sign_in(&page, "alice@example.com").await;
    assert_eq!(response.status(), 200);
    let csp = response.headers()["content-security-policy"].to_str().unwrap().to_string();
    let page = response.text().await.unwrap();
    assert!(page.contains("action=\"/oauth/mfa/enrol\"") && page.contains("src=\"data:image/png;base64,"), "{page}");
    assert!(csp.contains("img-src data:"), "the QR code may load: {csp}");
    let secret = page.split("<code id=\"secret\">").nth(1).unwrap().split('<').next().unwrap().to_string();
    let mut authenticator = Authenticator::new(&secret);

    let far_off = totp(&base32_decode(&secret), current_step() + 100);
    let wrong = browser.submit(&page, "/oauth/mfa/enrol", &[("code", &far_off)]).await;
    assert_eq!(wrong.status(), 401);
    let enrol_form = wrong.text().await.unwrap();
    assert!(enrol_form.contains("not right") && enrol_form.contains(&secret), "the same authenticator is shown again");
    let code = authenticator.next_code().await;
    let enrolled = browser.submit(&enrol_form, "/oauth/mfa/enrol", &[("code", &code)]).await;
    assert_eq!(enrolled.status(), 200);
    let page = enrolled.text().await.unwrap();
    assert_eq!(page.matches("<li><code>").count(), 10, "ten backup codes, shown once: {page}");
    let carried = hidden_fields(&page);
    assert!(!carried.iter().any(|(name, _)| name == "prompt"), "prompt=login is satisfied by this sign-in");

    let continued = browser.authorize(&as_refs(&carried)).await;
    assert_eq!(continued.status(), 303, "the SSO session started: no second sign-in");
    let redirect = redirect_params(&continued);
    let tokens: Value = token_request(
        &app,
        &client,
        &[
            ("grant_type", "authorization_code"),
            ("code", &redirect["code"]),
            ("redirect_uri", REDIRECT_URI),
            ("code_verifier", &verifier),
        ],
    )
    .await
    .json()
    .await
    .unwrap();
    use base64::Engine;
    let id_token = tokens["id_token"].as_str().unwrap();
    let claims: Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(id_token.split('.').nth(1).unwrap()).unwrap(),
    )
    .unwrap();
    assert_eq!(claims["amr"], json!(["pwd", "otp", "mfa"]));
    let answer: Value = login(&app, "alice@example.com", json!({})).await.json().await.unwrap();
    assert_eq!(answer["mfa_required"], true, "MFA is on for the next sign-in: {answer}");
    // The enrolment token is spent: the form cannot enrol again.
    let code = authenticator.next_code().await;
    let replay = browser.submit(&enrol_form, "/oauth/mfa/enrol", &[("code", &code)]).await;
    assert_eq!(replay.status(), 400);
    assert!(replay.text().await.unwrap().contains("Your sign-in expired"));
}

backend_tests!(
    enrolment_shows_the_secret_once_and_confirming_turns_mfa_on,
    setup_needs_a_bearer_or_an_enrolment_token_and_a_tenant_that_allows_mfa,
    login_with_mfa_answers_a_token_and_the_challenge_finishes_it,
    an_inline_code_signs_in_at_once_and_is_refused_on_replay,
    codes_one_step_either_side_are_accepted_and_further_ones_refused,
    backup_codes_work_once_and_regenerating_kills_the_old_ones,
    wrong_codes_count_toward_the_lockout_and_kill_the_token_after_five,
    disabling_needs_a_code_and_ends_the_other_sessions,
    an_admin_reset_removes_the_factor_and_ends_every_session,
    the_required_policy_enrols_through_the_login_token,
    the_hosted_sign_in_asks_for_the_code_and_the_id_token_says_so,
    the_hosted_sign_in_enrols_an_authenticator_when_the_tenant_requires_one
);

async fn chromium_passes_the_hosted_mfa_step(backend: Backend) {
    use fantoccini::Locator;
    let Some(driver) = crate::browser::start_driver().await else { return };
    let app = TestApp::spawn(backend).await;
    let (access, _) = user_with_session(&app, "ann@acme.test").await;
    let (mut authenticator, _) = enrol(&app, &access).await;
    let (redirect_uri, mut callbacks) = crate::browser::callback_server().await;
    let client = create_client(&app, "acme", json!({ "redirect_uris": [redirect_uri] })).await;
    let (verifier, challenge) = crate::oauth_support::pkce();
    let mut authorize = url::Url::parse(&app.url("/oauth/authorize")).unwrap();
    authorize
        .query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", client["client_id"].as_str().unwrap())
        .append_pair("redirect_uri", &redirect_uri)
        .append_pair("scope", "openid")
        .append_pair("code_challenge", &challenge)
        .append_pair("code_challenge_method", "S256");
    let profile = tempfile::tempdir().unwrap();
    let browser = crate::browser::chromium(&driver, profile.path()).await;

    browser.goto(authorize.as_str()).await.unwrap();
    browser.find(Locator::Id("email")).await.unwrap().send_keys("ann@acme.test").await.unwrap();
    browser.find(Locator::Id("password")).await.unwrap().send_keys(PASSWORD).await.unwrap();
    browser.find(Locator::Id("sign-in")).await.unwrap().click().await.unwrap();
    let code_field = browser.wait().for_element(Locator::Id("code")).await.unwrap();
    code_field.send_keys(&authenticator.next_code().await).await.unwrap();
    browser.find(Locator::Id("verify")).await.unwrap().click().await.unwrap();
    browser.wait().for_element(Locator::Id("done")).await.unwrap();

    let query = callbacks.recv().await.unwrap();
    let params: std::collections::HashMap<String, String> =
        url::form_urlencoded::parse(query.as_bytes()).into_owned().collect();
    let tokens: Value = token_request(
        &app,
        &client,
        &[
            ("grant_type", "authorization_code"),
            ("code", &params["code"]),
            ("redirect_uri", &redirect_uri),
            ("code_verifier", &verifier),
        ],
    )
    .await
    .json()
    .await
    .unwrap();
    let id_token = tokens["id_token"].as_str().expect("an id_token");
    use base64::Engine;
    let claims: Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(id_token.split('.').nth(1).unwrap()).unwrap(),
    )
    .unwrap();
    assert_eq!(claims["amr"], json!(["pwd", "otp", "mfa"]));
    browser.close().await.unwrap();
}

backend_tests!(chromium_passes_the_hosted_mfa_step);

async fn inline_codes_share_the_second_factor_limit_when_the_lockout_is_off(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (access, _) = user_with_session(&app, "alice@example.com").await;
    let (mut authenticator, _) = enrol(&app, &access).await;
    app.set_settings("acme", json!({ "lockout_threshold": 0 })).await;
    let code = authenticator.next_code().await;
    let wrong = if code == "000000" { "111111" } else { "000000" };
    // Each login counts one attempt; ten wrong codes inline, as the challenge allows ...
    for _ in 0..10 {
        assert_error(login(&app, "alice@example.com", json!({ "otp": wrong })).await, 401, "invalid_otp").await;
    }
    // ... and then even the right one is refused, as on the challenge endpoint.
    assert_error(login(&app, "alice@example.com", json!({ "otp": code })).await, 401, "invalid_otp").await;
    let locked: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM audit_log WHERE action = 'mfa.failed' AND details LIKE '%locked%'")
            .fetch_one(app.state.store.pool())
            .await
            .unwrap();
    assert_eq!(locked, 1);
}

backend_tests!(inline_codes_share_the_second_factor_limit_when_the_lockout_is_off);
