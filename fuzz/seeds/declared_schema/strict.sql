CREATE TABLE s(x INT, y REAL, z TEXT, w BLOB, v ANY, g INTEGER AS (x * 2) STORED) STRICT;
-- liteshift:rename-table old=s
