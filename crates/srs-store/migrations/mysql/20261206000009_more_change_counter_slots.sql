-- 256 slots instead of 16. In strict mode a commit holds its row locks
-- until the replica acknowledges it, one round trip between the sites; a
-- create holding one of 16 counter rows made the other creates that drew
-- the same row wait that long (measured: 86 creates/s at 70 ms round trip
-- and 64 connections, against 914 that the round trip allows).
INSERT INTO change_counters (slot, n)
WITH RECURSIVE s (slot) AS (SELECT 16 UNION ALL SELECT slot + 1 FROM s WHERE slot < 255)
SELECT slot, 0 FROM s;
