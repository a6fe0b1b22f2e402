//! The background purge: what ended goes in bounded batches, what lives stays, one purger at a
//! time, and audit rows go after the tenant's retention with the list totals following.

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{Backend, PASSWORD, TestApp, assert_error, backend_tests};
use ovlt::maintenance::{Purge, purge};
use ovlt::store::maintenance::{KEEP_AFTER_EXPIRY_SECONDS, take_lease};
use ovlt::types::Timestamp;

const DAY: i64 = 86_400;

async fn count(app: &TestApp, table: &str) -> i64 {
    sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(format!("SELECT COUNT(*) FROM {table}")))
        .fetch_one(app.state.store.pool())
        .await
        .unwrap()
}

async fn refresh(app: &TestApp, refresh_token: &str) -> reqwest::Response {
    app.tenant(Method::POST, "/auth/refresh", "acme")
        .json(&json!({ "refresh_token": refresh_token }))
        .send()
        .await
        .unwrap()
}

async fn the_purge_deletes_what_ended_in_batches_and_keeps_what_lives(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (_, live) = app.signed_in("acme", "alice@example.com").await;
    let (ended_access, mut bob_refresh) = app.signed_in("acme", "bob@example.com").await;
    // Two rotations: bob's session holds three refresh tokens when it ends.
    for _ in 0..2 {
        let pair: serde_json::Value = refresh(&app, &bob_refresh).await.json().await.unwrap();
        bob_refresh = pair["refresh_token"].as_str().unwrap().to_string();
    }
    let logout = app.tenant(Method::POST, "/auth/logout", "acme").bearer_auth(&ended_access).send().await.unwrap();
    assert_eq!(logout.status(), 204);
    let verification_codes = count(&app, "user_codes").await;
    let reset = app
        .tenant(Method::POST, "/auth/forgot-password", "acme")
        .json(&json!({ "email": "alice@example.com" }))
        .send()
        .await
        .unwrap();
    assert!(reset.status().is_success(), "{}", reset.status());
    // The reset code is stored after the answer (the answer's timing must not tell whether the
    // email exists): wait until it is there.
    let stored = async {
        while count(&app, "user_codes").await == verification_codes {
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
    };
    tokio::time::timeout(std::time::Duration::from_secs(10), stored).await.expect("the reset code is stored");
    assert_eq!(app.login("acme", "nobody@example.com", PASSWORD).await.status(), 401);
    assert_eq!(count(&app, "sessions").await, 2);
    assert_eq!(count(&app, "refresh_tokens").await, 4);
    assert_eq!(count(&app, "login_attempts").await, 1, "the unknown address's attempt is counted");
    // Bob's session ended two days ago; the reset code and a revoked-token entry expired then.
    let two_days_ago = Timestamp::now().unix_seconds() - 2 * DAY;
    for statement in [
        "UPDATE sessions SET revoked_at = $1 WHERE revoked_at IS NOT NULL",
        "UPDATE user_codes SET expires_at = $1",
        "UPDATE revoked_access_tokens SET expires_at = $1",
        "UPDATE login_attempts SET expires_at = $1",
    ] {
        sqlx::query(statement).bind(two_days_ago).execute(app.state.store.pool()).await.unwrap();
    }
    let codes = count(&app, "user_codes").await;

    let outcome = purge(&app.state.store, "instance-a", Timestamp::now(), 1).await.unwrap();

    let Purge::Done { rows, batches, finished } = outcome else { panic!("no other purger: {outcome:?}") };
    assert!(finished);
    assert!(rows > codes as u64 + 3, "bob's session, its three refresh tokens and the codes: {rows}");
    assert!(batches > rows, "one row a batch, and one empty batch a table: {batches} batches, {rows} rows");
    assert_eq!(count(&app, "sessions").await, 1, "alice's session lives");
    assert_eq!(count(&app, "refresh_tokens").await, 1, "bob's refresh tokens went before his session");
    assert_eq!(count(&app, "user_codes").await, 0);
    assert_eq!(count(&app, "revoked_access_tokens").await, 0);
    assert_eq!(count(&app, "login_attempts").await, 0);
    assert_eq!(refresh(&app, &live).await.status(), 200, "a live session keeps working");
    assert_eq!(app.login("acme", "bob@example.com", PASSWORD).await.status(), 200, "bob signs in again");
}

async fn rows_that_ended_within_the_keep_period_stay(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (access, refresh_token) = app.signed_in("acme", "alice@example.com").await;
    app.tenant(Method::POST, "/auth/logout", "acme").bearer_auth(&access).send().await.unwrap();

    let now = Timestamp::now();
    purge(&app.state.store, "instance-a", now, 1000).await.unwrap();
    assert_eq!(count(&app, "sessions").await, 1, "ended just now: kept a day, so a replay is still recognised");
    assert_error(refresh(&app, &refresh_token).await, 401, "invalid_token").await;

    let later = Timestamp(now.unix_seconds() + KEEP_AFTER_EXPIRY_SECONDS + 60);
    purge(&app.state.store, "instance-a", later, 1000).await.unwrap();
    assert_eq!(count(&app, "sessions").await, 0);
    assert_eq!(count(&app, "refresh_tokens").await, 0);
}

async fn a_second_purger_waits_until_the_lease_is_free_or_lapsed(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (access, _) = app.signed_in("acme", "alice@example.com").await;
    app.tenant(Method::POST, "/auth/logout", "acme").bearer_auth(&access).send().await.unwrap();
    let pool = app.state.store.pool();
    let now = Timestamp::now();
    let later = Timestamp(now.unix_seconds() + 2 * DAY);
    assert!(take_lease(pool, "purge", "instance-a", later, Timestamp(later.unix_seconds() + 300)).await.unwrap());

    let second = purge(&app.state.store, "instance-b", later, 1000).await.unwrap();

    assert_eq!(second, Purge::Skipped);
    assert_eq!(count(&app, "sessions").await, 1, "nothing was deleted by the instance without the lease");
    assert!(
        !take_lease(pool, "purge", "instance-c", later, Timestamp(later.unix_seconds() + 300)).await.unwrap(),
        "a held lease is nobody else's"
    );
    // A holder that died: once its lease lapses, another instance takes over.
    let after_lapse = Timestamp(later.unix_seconds() + 301);
    assert!(matches!(
        purge(&app.state.store, "instance-b", after_lapse, 1000).await.unwrap(),
        Purge::Done { finished: true, .. }
    ));
    assert_eq!(count(&app, "sessions").await, 0);
    // A holder that finished gave the lease back at once (purge releases it).
    assert!(
        take_lease(pool, "purge", "instance-a", after_lapse, Timestamp(after_lapse.unix_seconds() + 300))
            .await
            .unwrap()
    );
}

async fn audit_total(app: &TestApp, slug: &str) -> i64 {
    let page: Value = app
        .admin(Method::GET, "/audit-log")
        .header("x-ovlt-tenant-slug", slug)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    page["total"].as_i64().unwrap_or_else(|| panic!("a total: {page}"))
}

async fn audit_rows_past_the_tenants_retention_go_and_the_totals_follow(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.signed_in("acme", "alice@example.com").await;
    app.signed_in("beta", "bob@example.com").await;
    let refused = app
        .admin(Method::PUT, "/settings")
        .header("x-ovlt-tenant-slug", "acme")
        .json(&json!({ "audit_retention_days": 0 }));
    assert_error(refused.send().await.unwrap(), 400, "invalid_payload").await;
    app.set_settings("acme", json!({ "audit_retention_days": 30 })).await;
    app.set_settings("beta", json!({ "audit_retention_days": null })).await;
    let beta_before = audit_total(&app, "beta").await;
    assert!(audit_total(&app, "acme").await > 0 && beta_before > 0);

    // 29 days on, nothing is old enough; 31 days on, everything acme had is.
    let now = Timestamp::now().unix_seconds();
    purge(&app.state.store, "instance-a", Timestamp(now + 29 * DAY), 1000).await.unwrap();
    assert!(audit_total(&app, "acme").await > 0);
    purge(&app.state.store, "instance-a", Timestamp(now + 31 * DAY), 2).await.unwrap();

    assert_eq!(audit_total(&app, "acme").await, 0, "the list total follows the deleted rows");
    let acme_rows: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM audit_log a JOIN tenants t ON t.id = a.tenant_id WHERE t.slug = 'acme'",
    )
    .fetch_one(app.state.store.pool())
    .await
    .unwrap();
    assert_eq!(acme_rows, 0);
    assert_eq!(audit_total(&app, "beta").await, beta_before, "a tenant without retention keeps everything");
    let settings: Value = app
        .admin(Method::GET, "/settings")
        .header("x-ovlt-tenant-slug", "acme")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(settings["audit_retention_days"], 30);
}

backend_tests!(
    the_purge_deletes_what_ended_in_batches_and_keeps_what_lives,
    rows_that_ended_within_the_keep_period_stay,
    a_second_purger_waits_until_the_lease_is_free_or_lapsed,
    audit_rows_past_the_tenants_retention_go_and_the_totals_follow
);
