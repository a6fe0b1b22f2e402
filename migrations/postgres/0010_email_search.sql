-- Email substring search: PostgreSQL's index is the pg_trgm one of 0009. This number exists so
-- both backends keep the same migration sequence (migrations/sqlite/0010 adds SQLite's FTS5 index).
SELECT 1;
