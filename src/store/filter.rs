//! The WHERE clause of a filtered list, naming only the filters a request gave.
//!
//! One fixed statement with `($2 IS NULL OR column = $2)` per optional filter keeps both
//! planners from choosing the index a filter needs, and PostgreSQL may cache a generic plan
//! made without the values (a `LIKE` pattern decides between the trigram index and a walk in
//! date order). So each list statement names only its present filters, and filtered ones are
//! planned with their values instead of being cached.

use sqlx::any::{AnyArguments, AnyRow};
use sqlx::{Any, Arguments, Executor, FromRow};

use crate::tenants::TenantId;

enum Value {
    Text(String),
    Int(i64),
}

/// `tenant_id = $1 AND …`: every list starts inside one tenant.
pub struct Filter {
    clause: String,
    values: Vec<Value>,
}

impl Filter {
    pub fn tenant(tenant_id: TenantId) -> Self {
        Self { clause: "tenant_id = $1".into(), values: vec![Value::Text(tenant_id.to_string())] }
    }

    /// Appends `AND <condition>`, where `?` in `condition` stands for the new value.
    pub fn text(&mut self, condition: &str, value: impl Into<String>) -> &mut Self {
        self.values.push(Value::Text(value.into()));
        self.push(condition)
    }

    pub fn int(&mut self, condition: &str, value: i64) -> &mut Self {
        self.values.push(Value::Int(value));
        self.push(condition)
    }

    /// Appends `AND <condition>` with no value: for conditions the code spells out itself.
    pub fn literal(&mut self, condition: &str) {
        self.clause.push_str(" AND ");
        self.clause.push_str(condition);
    }

    fn push(&mut self, condition: &str) -> &mut Self {
        let placeholder = format!("${}", self.values.len());
        self.literal(&condition.replace('?', &placeholder));
        self
    }

    /// Whether a statement on this filter may be prepared once and cached: only when it binds no
    /// filter value, because the best plan for those depends on the value.
    pub fn cacheable(&self) -> bool {
        self.values.len() == 1
    }

    pub fn clause(&self) -> &str {
        &self.clause
    }

    /// Placeholder for the next value bound after the filter's own (e.g. a LIMIT).
    pub fn next_placeholder(&self, nth: usize) -> String {
        format!("${}", self.values.len() + nth)
    }

    /// The filter's values, in placeholder order, followed by `extra`.
    pub fn arguments(&self, extra: &[i64]) -> AnyArguments {
        let mut arguments = AnyArguments::default();
        for value in &self.values {
            // Adding a String or i64 to AnyArguments cannot fail (it only buffers the value).
            let _ = match value {
                Value::Text(text) => arguments.add(text.clone()),
                Value::Int(n) => arguments.add(*n),
            };
        }
        for n in extra {
            let _ = arguments.add(*n);
        }
        arguments
    }
}

/// One page of `table` (newest first) in `window`, of the rows `filter` matches. The page's ids
/// come from an index alone (a covering walk past the offset), then only the page's own rows are
/// read. `CROSS JOIN` keeps the page as the outer loop on SQLite, whose planner otherwise may
/// walk every row of the tenant to probe it.
pub async fn fetch_page<'e, O>(
    db: impl Executor<'e, Database = Any>,
    table: &str,
    columns: &str,
    filter: &Filter,
    window: &Window,
) -> sqlx::Result<Vec<O>>
where
    O: for<'r> FromRow<'r, AnyRow> + Send + Unpin,
{
    let sql = format!(
        "SELECT {columns} FROM \
         (SELECT id AS page_id FROM {table} WHERE {} ORDER BY {} LIMIT {} OFFSET {}) page \
         CROSS JOIN {table} WHERE id = page_id AND tenant_id = $1 ORDER BY created_at DESC, id DESC",
        filter.clause(),
        window.order,
        filter.next_placeholder(1),
        filter.next_placeholder(2),
    );
    sqlx::query_as_with(sqlx::AssertSqlSafe(sql), filter.arguments(&[window.limit, window.offset]))
        .persistent(filter.cacheable())
        .fetch_all(db)
        .await
}

/// Which stretch of a newest-first list a page is read from. A page past the middle is read
/// from the oldest end instead (ascending, then turned around), so no page walks more than half
/// of the list to reach its offset.
#[derive(Debug, PartialEq, Eq)]
pub struct Window {
    pub order: &'static str,
    pub limit: i64,
    pub offset: i64,
}

impl Window {
    /// None when the page lies wholly past the `total` matching rows.
    pub fn new(total: i64, limit: i64, offset: i64) -> Option<Self> {
        if offset >= total {
            return None;
        }
        if offset <= total / 2 {
            return Some(Self { order: "created_at DESC, id DESC", limit, offset });
        }
        let limit = limit.min(total - offset);
        Some(Self { order: "created_at ASC, id ASC", limit, offset: total - offset - limit })
    }
}

#[cfg(test)]
mod tests {
    use super::Window;

    #[test]
    fn deep_pages_are_read_from_the_oldest_end() {
        let newest = |limit, offset| Some(Window { order: "created_at DESC, id DESC", limit, offset });
        let oldest = |limit, offset| Some(Window { order: "created_at ASC, id ASC", limit, offset });
        assert_eq!(Window::new(100, 10, 0), newest(10, 0));
        assert_eq!(Window::new(100, 10, 50), newest(10, 50));
        assert_eq!(Window::new(100, 10, 60), oldest(10, 30), "rows 60..70 newest-first are 30..40 oldest-first");
        assert_eq!(Window::new(100, 10, 90), oldest(10, 0));
        assert_eq!(Window::new(95, 10, 90), oldest(5, 0), "a short last page");
        assert_eq!(Window::new(100, 10, 100), None);
        assert_eq!(Window::new(0, 10, 0), None);
    }
}
