-- The schema the app wants now. liteshift makes app.db match it.
--
-- `due` is renamed rather than dropped and re-added, so its values are kept:
-- liteshift:rename-column items.due=due_date

CREATE TABLE lists(
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  title TEXT NOT NULL COLLATE NOCASE,            -- a collation change: lists is rebuilt
  color TEXT NOT NULL DEFAULT 'blue'             -- new column, filled by the rebuild
);
CREATE TABLE items(
  id INTEGER PRIMARY KEY,
  list_id INTEGER NOT NULL REFERENCES lists(id) ON DELETE CASCADE,
  text TEXT NOT NULL,
  done INTEGER NOT NULL DEFAULT 0,               -- only NOT NULL added: native ALTER COLUMN ... SET NOT NULL
  due_date TEXT,
  priority INTEGER CHECK (priority BETWEEN 1 AND 5) -- new column: native ADD COLUMN
);
CREATE INDEX items_list ON items(list_id);
CREATE INDEX items_due ON items(due_date) WHERE due_date IS NOT NULL;
CREATE VIEW open_items AS SELECT i.id, l.title, i.text, i.due_date FROM items i JOIN lists l ON l.id = i.list_id WHERE NOT i.done;
CREATE TRIGGER lists_title_trim AFTER INSERT ON lists BEGIN UPDATE lists SET title = trim(title) WHERE id = new.id; END;
