// The schemas the Node tests and the browser page migrate: parent is rebuilt (NOT NULL +
// collation + a non-constant default), child gains a column; cascade children, a view, a
// trigger and an AUTOINCREMENT high-water mark must survive.
export const OLD = `
CREATE TABLE parent(id INTEGER PRIMARY KEY, name TEXT);
CREATE TABLE child(id INTEGER PRIMARY KEY, parent_id INTEGER NOT NULL REFERENCES parent(id) ON DELETE CASCADE, note TEXT);
CREATE TABLE events(id INTEGER PRIMARY KEY AUTOINCREMENT, what TEXT);
CREATE VIEW parent_names AS SELECT id, name FROM parent;
CREATE TRIGGER parent_added AFTER INSERT ON parent BEGIN INSERT INTO events(what) VALUES ('added ' || new.name); END;
`;
export const ROWS = `
INSERT INTO parent(id, name) VALUES (1, 'a'), (2, 'b');
INSERT INTO child VALUES (1, 1, 'x'), (2, 1, 'y'), (3, 2, 'z');
INSERT INTO events(id, what) VALUES (100, 'high-water'); DELETE FROM events WHERE id = 100;
`;
export const NEW = `
CREATE TABLE parent(id INTEGER PRIMARY KEY, name TEXT NOT NULL COLLATE NOCASE, created TEXT DEFAULT CURRENT_TIMESTAMP);
CREATE TABLE child(id INTEGER PRIMARY KEY, parent_id INTEGER NOT NULL REFERENCES parent(id) ON DELETE CASCADE, note TEXT, done INTEGER NOT NULL DEFAULT 0);
CREATE TABLE events(id INTEGER PRIMARY KEY AUTOINCREMENT, what TEXT);
CREATE VIEW parent_names AS SELECT id, name FROM parent;
CREATE TRIGGER parent_added AFTER INSERT ON parent BEGIN INSERT INTO events(what) VALUES ('added ' || new.name); END;
`;
