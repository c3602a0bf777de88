-- Every write transaction adds one to a randomly chosen slot; the sum is a
-- cluster-wide generation number that read caches check in one cheap
-- query. Sixteen slots keep concurrent writers from queueing on one row.
CREATE TABLE change_counters (
    slot  INTEGER PRIMARY KEY,
    n     INTEGER NOT NULL
);
INSERT INTO change_counters (slot, n) VALUES
    (0, 0), (1, 0), (2, 0), (3, 0), (4, 0), (5, 0), (6, 0), (7, 0),
    (8, 0), (9, 0), (10, 0), (11, 0), (12, 0), (13, 0), (14, 0), (15, 0);
