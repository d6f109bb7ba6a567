CREATE TABLE notes(id INTEGER PRIMARY KEY, title TEXT, body TEXT);
CREATE VIRTUAL TABLE notes_fts USING fts5(title, body UNINDEXED, content='notes', content_rowid='id', tokenize = 'porter unicode61');
CREATE VIRTUAL TABLE docs USING hostonly("a b" TEXT, [c], `d`, opt=(1,2), 'e');
CREATE VIRTUAL TABLE empty_args USING othermod;
CREATE VIRTUAL TABLE boxes USING rtree(id, minX, maxX);
CREATE VIEW v AS SELECT title, rank FROM notes_fts WHERE notes_fts MATCH 'x';
CREATE VIEW w AS SELECT "a b", c, d FROM docs;
CREATE TRIGGER t AFTER INSERT ON notes BEGIN INSERT INTO docs("a b") VALUES (new.title); END;
