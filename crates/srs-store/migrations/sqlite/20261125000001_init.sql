-- Departments students belong to; retired ones keep their students.
CREATE TABLE departments (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    name        TEXT NOT NULL,
    name_key    TEXT NOT NULL,
    retired_at  TEXT NULL,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL,
    CONSTRAINT uq_departments_name_key UNIQUE (name_key)
);

-- Student records. live_email_key is the lower-cased e-mail while the
-- record is live and NULL once deleted, so e-mails are unique among live
-- records on every engine (MariaDB has no partial indexes).
CREATE TABLE students (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    student_number  TEXT NOT NULL,
    full_name       TEXT NOT NULL,
    name_key        TEXT NOT NULL,
    email           TEXT NULL,
    live_email_key  TEXT NULL,
    date_of_birth   TEXT NOT NULL,
    department_id   INTEGER NOT NULL REFERENCES departments (id),
    status          TEXT NOT NULL,
    enrolled_on     TEXT NOT NULL,
    search_text     TEXT NOT NULL,
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL,
    deleted_at      TEXT NULL,
    version         INTEGER NOT NULL,
    CONSTRAINT uq_students_student_number UNIQUE (student_number),
    CONSTRAINT uq_students_live_email_key UNIQUE (live_email_key)
);
CREATE INDEX ix_students_live_name ON students (deleted_at, name_key, id);
CREATE INDEX ix_students_live_created ON students (deleted_at, created_at, id);
CREATE INDEX ix_students_department ON students (department_id);
CREATE INDEX ix_students_name_dob ON students (name_key, date_of_birth);
CREATE INDEX ix_students_live_number ON students (deleted_at, student_number);
CREATE INDEX ix_students_live_department ON students (deleted_at, department_id, name_key);

-- Sequences the server draws from, e.g. generated student numbers.
CREATE TABLE counters (
    name   TEXT PRIMARY KEY,
    value  INTEGER NOT NULL
);

-- Idempotency-Key records: the first successful response per key.
CREATE TABLE idempotency_keys (
    idem_key       TEXT PRIMARY KEY,
    request_hash   TEXT NOT NULL,
    response_body  TEXT NOT NULL,
    student_id     INTEGER NOT NULL,
    created_at     TEXT NOT NULL
);

INSERT INTO counters (name, value) VALUES ('student_number', 0);
INSERT INTO departments (name, name_key, created_at, updated_at) VALUES
    ('Computer Science', 'computer science', strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    ('Engineering', 'engineering', strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    ('Business', 'business', strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    ('Medicine', 'medicine', strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    ('Arts', 'arts', strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), strftime('%Y-%m-%dT%H:%M:%fZ', 'now'));
