-- The board filtered by kind (需求 or 揭榜挂帅), newest first, a page at a time.
CREATE INDEX demands_kind_newest ON demands (kind, created_at, id);
