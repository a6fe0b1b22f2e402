//! The hand-written operations, kept while handlers move to `#[utoipa::path]`: an operation
//! the router documents itself replaces the one here. Deleted when the move is complete.

mod builder;
mod paths;
pub mod schemas;

use serde_json::{Map, Value, json};

/// The hand-written `paths` object.
pub fn paths() -> Map<String, Value> {
    let mut paths = Map::new();
    for op in paths::operations() {
        let (path, method) = (op.path, op.method);
        let item = paths.entry(path).or_insert_with(|| json!({}));
        item[method] = op.build();
    }
    paths
}

/// Writes the hand-written operations to `$OVLT_LEGACY_OPENAPI`, to compare a handler's generated
/// description with its former one (`cargo test --lib dump_legacy -- --ignored`).
#[test]
#[ignore]
fn dump_legacy() {
    let out = std::env::var("OVLT_LEGACY_OPENAPI").unwrap_or_else(|_| "/tmp/legacy-openapi.json".into());
    let document = json!({ "paths": paths(), "components": schemas::components() });
    std::fs::write(out, document.to_string()).unwrap();
}
