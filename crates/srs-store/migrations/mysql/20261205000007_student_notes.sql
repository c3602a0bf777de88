-- Notes on a student: dated, by author, never edited (a correction is a
-- new note). Each is also an audit entry written in the same transaction.
CREATE TABLE student_notes (
    id              BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    student_id      BIGINT NOT NULL,
    body            TEXT NOT NULL,
    author          VARCHAR(200) NOT NULL,
    author_user_id  BIGINT NULL,
    created_at      DATETIME(6) NOT NULL,
    KEY ix_notes_student (student_id, id),
    CONSTRAINT fk_notes_student FOREIGN KEY (student_id) REFERENCES students (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
