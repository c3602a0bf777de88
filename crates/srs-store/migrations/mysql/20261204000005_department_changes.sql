-- Every change to the departments (added, renamed, retired, deleted) adds
-- one to this row in its transaction: app instances cache the department
-- list checked against it, so a create needs no look-up of its department.
CREATE TABLE department_changes (
    id  INTEGER NOT NULL PRIMARY KEY,
    n   BIGINT NOT NULL
);
INSERT INTO department_changes (id, n) VALUES (1, 0);
