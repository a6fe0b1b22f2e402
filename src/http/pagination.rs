//! `?page=&per_page=` in, `{"data", "page", "per_page", "total"}` out (DESIGN §5).

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use serde::{Deserialize, Serialize};

use crate::error::{ApiError, FieldErrors};
use crate::http::extract::Query;

pub const DEFAULT_PER_PAGE: u32 = 50;
pub const MAX_PER_PAGE: u32 = 200;

/// A validated page request: `page` ≥ 1 (default 1), `per_page` 1–200 (default 50; larger
/// values are capped at 200, and the answer says so in its `per_page`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pagination {
    pub page: u32,
    pub per_page: u32,
}

impl Pagination {
    pub fn limit(&self) -> i64 {
        i64::from(self.per_page)
    }

    pub fn offset(&self) -> i64 {
        i64::from(self.page - 1) * i64::from(self.per_page)
    }
}

/// `?page=&per_page=`, read as text so a malformed number answers the validation error below.
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RawPagination {
    /// The page, from 1 (default 1).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 1_000_000, default = 1)]
    page: Option<String>,
    /// Entries per page (default 50); values over 200 are capped at 200 (the answer's per_page
    /// says so).
    #[param(value_type = Option<u64>, minimum = 1, maximum = 4_294_967_295_u64, default = 50)]
    per_page: Option<String>,
}

impl<S: Send + Sync> FromRequestParts<S> for Pagination {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let Query(raw) = Query::<RawPagination>::from_request_parts(parts, state).await?;
        let mut fields = FieldErrors::new();
        let page = match raw.page.as_deref().map(str::parse::<u32>) {
            None => 1,
            Some(Ok(n)) if (1..=1_000_000).contains(&n) => n,
            Some(_) => {
                fields.insert("page".into(), "must be a whole number from 1".into());
                1
            }
        };
        let per_page = match raw.per_page.as_deref().map(str::parse::<u32>) {
            None => DEFAULT_PER_PAGE,
            Some(Ok(n)) if n >= 1 => n.min(MAX_PER_PAGE),
            Some(_) => {
                fields.insert("per_page".into(), format!("must be a whole number from 1 to {MAX_PER_PAGE}"));
                DEFAULT_PER_PAGE
            }
        };
        if fields.is_empty() { Ok(Self { page, per_page }) } else { Err(ApiError::validation(fields)) }
    }
}

/// One page of a list.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Page<T> {
    pub data: Vec<T>,
    #[schema(minimum = 1)]
    pub page: u32,
    #[schema(minimum = 1, maximum = 200)]
    pub per_page: u32,
    /// Entries in the whole list.
    #[schema(minimum = 0)]
    pub total: i64,
}

impl<T> Page<T> {
    pub fn new(data: Vec<T>, pagination: Pagination, total: i64) -> Self {
        Self { data, page: pagination.page, per_page: pagination.per_page, total }
    }
}
