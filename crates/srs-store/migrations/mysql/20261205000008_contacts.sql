-- How to reach a student. Emergency contacts are kept in their text form
-- ("Name (relationship): phone; ..."), which srs_domain parses back.
ALTER TABLE students
    ADD COLUMN phone VARCHAR(40) NULL,
    ADD COLUMN address VARCHAR(400) NULL,
    ADD COLUMN emergency_contacts TEXT NULL;
