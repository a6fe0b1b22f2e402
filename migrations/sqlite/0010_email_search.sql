-- Email substring search on SQLite: an FTS5 trigram index of normalised emails (PostgreSQL has
-- its pg_trgm index from 0009; its 0010 is empty). A search of three characters or more is a
-- phrase query on this index (1–2 ms at a million users instead of a 0.5–2 s scan).
--
-- The index's rowid must be stable, and a users row's own rowid is not (the table has a TEXT
-- key, so VACUUM may renumber it): user_search_keys gives each user an INTEGER PRIMARY KEY,
-- which VACUUM keeps, and carries the tenant so a search never leaves it.

CREATE TABLE user_search_keys (
    seq        INTEGER NOT NULL PRIMARY KEY,
    tenant_id  TEXT    NOT NULL,
    user_id    TEXT    NOT NULL CONSTRAINT user_search_keys_user_key UNIQUE
);

CREATE VIRTUAL TABLE users_email_search USING fts5(email, tokenize = 'trigram');

INSERT INTO user_search_keys (tenant_id, user_id) SELECT tenant_id, id FROM users;
INSERT INTO users_email_search (rowid, email)
SELECT k.seq, u.email_normalized FROM user_search_keys k JOIN users u ON u.id = k.user_id;

CREATE TRIGGER users_searchable AFTER INSERT ON users
BEGIN
    INSERT INTO user_search_keys (tenant_id, user_id) VALUES (NEW.tenant_id, NEW.id);
    INSERT INTO users_email_search (rowid, email)
    VALUES ((SELECT seq FROM user_search_keys WHERE user_id = NEW.id), NEW.email_normalized);
END;

CREATE TRIGGER users_searchable_email AFTER UPDATE OF email_normalized ON users
BEGIN
    UPDATE users_email_search SET email = NEW.email_normalized
    WHERE rowid = (SELECT seq FROM user_search_keys WHERE user_id = NEW.id);
END;

CREATE TRIGGER users_unsearchable AFTER DELETE ON users
BEGIN
    DELETE FROM users_email_search WHERE rowid = (SELECT seq FROM user_search_keys WHERE user_id = OLD.id);
    DELETE FROM user_search_keys WHERE user_id = OLD.id;
END;
