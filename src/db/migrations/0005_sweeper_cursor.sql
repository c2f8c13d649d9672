-- Where the sweeper's walk over storage stopped, so each bounded run continues from there.
CREATE TABLE sweeper_cursors (
  name        text PRIMARY KEY,
  position    text NOT NULL,
  updated_at  timestamptz NOT NULL DEFAULT now()
);
