//! Okta's Python management SDK, unmodified, against Portcullis: `okta_sdk/python_sdk.py`
//! drives users (standard and typed custom attributes, search with pages and sorting,
//! filter, lifecycle), groups, trusted origins, roles, API tokens and sessions, and a
//! read-only admin's token.

use crate::support::{self, PASSWORD};
use serde_json::json;

/// The Python with the SDK installed (`cargo xtask test` makes one); `None`, said aloud, when
/// it is not given.
fn sdk_python() -> Option<String> {
    let python = std::env::var("PORTCULLIS_TEST_OKTA_PYTHON").ok();
    if python.is_none() {
        eprintln!("PORTCULLIS_TEST_OKTA_PYTHON is not set: Okta's Python SDK not run here");
    }
    python
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn okta_python_sdk_manages_the_org() {
    let Some(python) = sdk_python() else { return };
    let s = support::start().await;
    let owner = s.create_user("reader@example.com", PASSWORD).await;
    let owner = owner["id"].as_str().unwrap().to_owned();
    let res = s
        .admin_post(&format!("/api/v1/users/{owner}/roles"))
        .json(&json!({ "type": "READ_ONLY_ADMIN" }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let (_, token) = portcullis::directory::admins::create_token(
        s.state.store.as_ref(),
        "python sdk",
        &owner,
        "test",
        portcullis::clock::Timestamp::now(),
    )
    .unwrap();
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/it/okta_sdk/python_sdk.py"
    );
    let (local, secret) = (s.local.clone(), token.expose().to_owned());
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new(python)
            .arg(script)
            .arg(local)
            .arg(support::ADMIN_TOKEN)
            .arg(secret)
            .output()
    })
    .await
    .unwrap()
    .unwrap();
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{said}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        said.contains("ok: a read-only token cannot write"),
        "{said}"
    );
}
