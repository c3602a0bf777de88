-- Notes on a student: dated, by author, never edited (a correction is a
-- new note). Each is also an audit entry written in the same transaction.
CREATE TABLE student_notes (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    student_id      INTEGER NOT NULL REFERENCES students (id) ON DELETE CASCADE,
    body            TEXT NOT NULL,
    author          TEXT NOT NULL,
    author_user_id  INTEGER NULL,
    created_at      TEXT NOT NULL
);
CREATE INDEX ix_notes_student ON student_notes (student_id, id);
