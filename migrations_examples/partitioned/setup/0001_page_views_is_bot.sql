-- The partitioned table 0001_page_views_is_bot changes, with some rows in each partition.
-- Run it as the role that will own the tables:
--   psql -v ON_ERROR_STOP=1 -f migrations_examples/partitioned/setup/0001_page_views_is_bot.sql "$URL"
-- Plan the example against it: zdmigrate plan --schema-file migrations_examples/partitioned/setup/0001_page_views_is_bot.sql migrations_examples/partitioned/0001_page_views_is_bot.yaml

CREATE TABLE page_views (
    id bigint NOT NULL,
    viewed_at timestamptz NOT NULL,
    user_id bigint,
    path text NOT NULL,
    user_agent text,
    PRIMARY KEY (id, viewed_at)
) PARTITION BY RANGE (viewed_at);
CREATE TABLE page_views_2026_01 PARTITION OF page_views
    FOR VALUES FROM ('2026-01-01') TO ('2026-02-01');
CREATE TABLE page_views_2026_02 PARTITION OF page_views
    FOR VALUES FROM ('2026-02-01') TO ('2026-03-01');
CREATE TABLE page_views_default PARTITION OF page_views DEFAULT;

INSERT INTO page_views (id, viewed_at, user_id, path, user_agent)
SELECT g,
       '2026-01-01'::timestamptz + g * interval '5 minutes',
       CASE WHEN g % 4 <> 0 THEN 1 + g % 2000 END,
       '/products/' || g % 100,
       (ARRAY['Mozilla/5.0', 'Googlebot/2.1', NULL, 'curl/8.0'])[1 + g % 4]
FROM generate_series(1, 20000) AS g;
