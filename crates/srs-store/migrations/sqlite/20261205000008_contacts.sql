-- How to reach a student. Emergency contacts are kept in their text form
-- ("Name (relationship): phone; ..."), which srs_domain parses back.
ALTER TABLE students ADD COLUMN phone TEXT NULL;
ALTER TABLE students ADD COLUMN address TEXT NULL;
ALTER TABLE students ADD COLUMN emergency_contacts TEXT NULL;
