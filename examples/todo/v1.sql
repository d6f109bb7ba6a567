-- The schema the example database (app.db) was created with, and its rows.
CREATE TABLE lists(
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  title TEXT
);
CREATE TABLE items(
  id INTEGER PRIMARY KEY,
  list_id INTEGER NOT NULL REFERENCES lists(id) ON DELETE CASCADE,
  text TEXT NOT NULL,
  done INTEGER DEFAULT 0,
  due TEXT
);
CREATE INDEX items_list ON items(list_id);
CREATE VIEW open_items AS SELECT i.id, l.title, i.text FROM items i JOIN lists l ON l.id = i.list_id WHERE NOT i.done;
CREATE TRIGGER lists_title_trim AFTER INSERT ON lists BEGIN UPDATE lists SET title = trim(title) WHERE id = new.id; END;

INSERT INTO lists(id, title) VALUES (1, 'Groceries'), (2, 'Work'), (40, 'Archive');
DELETE FROM lists WHERE id = 40;
INSERT INTO items VALUES (1, 1, 'milk', 0, NULL), (2, 1, 'bread', 1, NULL), (3, 2, 'ship liteshift', 0, '2026-12-01');
