//! The WHERE clause of a filtered list, naming only the filters a request gave.
//!
//! One fixed statement with `($2 IS NULL OR column = $2)` per optional filter keeps both
//! planners from choosing the index a filter needs, and PostgreSQL may cache a generic plan
//! made without the values (a `LIKE` pattern decides between the trigram index and a walk in
//! date order). So each list statement names only its present filters, and filtered ones are
//! planned with their values instead of being cached.

use sqlx::any::{AnyArguments, AnyRow};
use sqlx::{AnyConnection, Arguments, FromRow};

use crate::types::TenantId;

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

    /// Whether the filter selects every row of the tenant (no condition but the tenant's).
    fn is_whole_tenant(&self) -> bool {
        self.clause == "tenant_id = $1"
    }

    /// The tenant id this filter starts with.
    fn tenant_value(&self) -> &str {
        match &self.values[0] {
            Value::Text(tenant) => tenant,
            Value::Int(_) => unreachable!("a filter starts with its tenant id"),
        }
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

/// One page of `table` (newest first) of the `total` rows `filter` matches, `limit` rows from
/// `offset`; empty past the end. The page's ids come from an index alone (a covering walk past
/// the offset), then only the page's own rows are read. `CROSS JOIN` keeps the page as the outer
/// loop on SQLite, whose planner otherwise may walk every row of the tenant to probe it.
///
/// Unfiltered and deeper than [`SEEK_BY_DAY_FROM`], the walk starts at the day the page falls in
/// (found from `list_day_counts`, migration 0012) rather than at the newest or oldest row, so it
/// passes at most one day's rows.
pub async fn fetch_page<O>(
    db: &mut AnyConnection,
    table: &str,
    columns: &str,
    filter: &Filter,
    (total, limit, offset): (i64, i64, i64),
) -> sqlx::Result<Vec<O>>
where
    O: for<'r> FromRow<'r, AnyRow> + Send + Unpin,
{
    let Some(mut window) = Window::new(total, limit, offset) else { return Ok(Vec::new()) };
    if filter.is_whole_tenant() && window.offset >= SEEK_BY_DAY_FROM {
        let sql = format!(
            "SELECT day, row_count FROM list_day_counts WHERE tenant_id = $1 AND list = $2 AND row_count > 0 \
             ORDER BY day {}",
            window.direction()
        );
        let days: Vec<(i64, i64)> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(filter.tenant_value())
            .bind(table)
            .fetch_all(&mut *db)
            .await?;
        window.start_in_its_day(&days);
    }
    let mut clause = filter.clause().to_string();
    if window.from.is_some() {
        let bound = if window.descending { "<" } else { ">=" };
        clause.push_str(&format!(" AND created_at {bound} {}", filter.next_placeholder(3)));
    }
    let order = if window.descending { "created_at DESC, id DESC" } else { "created_at ASC, id ASC" };
    let sql = format!(
        "SELECT {columns} FROM \
         (SELECT id AS page_id FROM {table} WHERE {clause} ORDER BY {order} LIMIT {} OFFSET {}) page \
         CROSS JOIN {table} WHERE id = page_id AND tenant_id = $1 ORDER BY created_at DESC, id DESC",
        filter.next_placeholder(1),
        filter.next_placeholder(2),
    );
    let mut extra = vec![window.limit, window.offset];
    extra.extend(window.from);
    sqlx::query_as_with(sqlx::AssertSqlSafe(sql), filter.arguments(&extra))
        .persistent(filter.cacheable())
        .fetch_all(db)
        .await
}

/// Which stretch of a newest-first list a page is read from. A page past the middle is read
/// from the oldest end instead (ascending, then turned around), so no page walks more than half
/// of the list to reach its offset; with the rows per day known, the walk starts `from` the
/// page's own day (`created_at <` its end, or `>=` its start when ascending).
#[derive(Debug, PartialEq, Eq)]
pub struct Window {
    pub descending: bool,
    pub limit: i64,
    pub offset: i64,
    pub from: Option<i64>,
}

const DAY: i64 = 86_400;

/// Below this offset the walk (≈ 80 ns a row) costs no more than reading the day counts, so the
/// first pages — the ones read most — skip that read.
const SEEK_BY_DAY_FROM: i64 = 2_000;

impl Window {
    /// None when the page lies wholly past the `total` matching rows.
    pub fn new(total: i64, limit: i64, offset: i64) -> Option<Self> {
        if offset >= total {
            return None;
        }
        if offset <= total / 2 {
            return Some(Self { descending: true, limit, offset, from: None });
        }
        let limit = limit.min(total - offset);
        Some(Self { descending: false, limit, offset: total - offset - limit, from: None })
    }

    fn direction(&self) -> &'static str {
        if self.descending { "DESC" } else { "ASC" }
    }

    /// Moves the start of the walk to the day holding row `offset`, given `(day, rows)` in the
    /// walk's direction: the rows of the days before it are skipped by the bound instead of
    /// walked. Left as it is if the days do not reach the offset.
    pub fn start_in_its_day(&mut self, days: &[(i64, i64)]) {
        let mut before = 0;
        for &(day, rows) in days {
            if self.offset < before + rows {
                self.from = Some(if self.descending { (day + 1) * DAY } else { day * DAY });
                self.offset -= before;
                return;
            }
            before += rows;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{DAY, Window};

    #[test]
    fn deep_pages_are_read_from_the_oldest_end() {
        let newest = |limit, offset| Some(Window { descending: true, limit, offset, from: None });
        let oldest = |limit, offset| Some(Window { descending: false, limit, offset, from: None });
        assert_eq!(Window::new(100, 10, 0), newest(10, 0));
        assert_eq!(Window::new(100, 10, 50), newest(10, 50));
        assert_eq!(Window::new(100, 10, 60), oldest(10, 30), "rows 60..70 newest-first are 30..40 oldest-first");
        assert_eq!(Window::new(100, 10, 90), oldest(10, 0));
        assert_eq!(Window::new(95, 10, 90), oldest(5, 0), "a short last page");
        assert_eq!(Window::new(100, 10, 100), None);
        assert_eq!(Window::new(0, 10, 0), None);
    }

    #[test]
    fn the_walk_starts_in_the_day_of_the_offset() {
        // 100 rows: 30 on day 12 (newest), 50 on day 11, 20 on day 10.
        let mut page = Window::new(100, 10, 35).unwrap();
        page.start_in_its_day(&[(12, 30), (11, 50), (10, 20)]);
        assert_eq!(
            page,
            Window { descending: true, limit: 10, offset: 5, from: Some(12 * DAY) },
            "day 11 ends where day 12 starts"
        );
        let mut first = Window::new(100, 10, 0).unwrap();
        first.start_in_its_day(&[(12, 30), (11, 50), (10, 20)]);
        assert_eq!(first, Window { descending: true, limit: 10, offset: 0, from: Some(13 * DAY) });
        let mut deep = Window::new(100, 10, 85).unwrap();
        deep.start_in_its_day(&[(10, 20), (11, 50), (12, 30)]);
        assert_eq!(
            deep,
            Window { descending: false, limit: 10, offset: 5, from: Some(10 * DAY) },
            "oldest-first offset 5 is in day 10"
        );
        let mut unknown = Window::new(100, 10, 40).unwrap();
        unknown.start_in_its_day(&[(12, 30)]);
        assert_eq!(
            unknown,
            Window { descending: true, limit: 10, offset: 40, from: None },
            "counts that fall short change nothing"
        );
    }
}
