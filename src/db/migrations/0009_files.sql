-- Files: the documents people keep, each change an immutable version in a chain of content ids;
-- folders to keep them in. A version's bytes are a confirmed upload's: one reference rule (a blob
-- lives while a live row uses it) covers uploads, versions, dataset links and previews.

CREATE TABLE folders (
  id          uuid PRIMARY KEY,
  org_id      uuid NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
  -- NULL: at the root
  parent_id   uuid REFERENCES folders(id),
  name        text NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now(),
  updated_at  timestamptz NOT NULL DEFAULT now()
);
-- Names are unique among siblings; the root has no row, so a NULL parent folds to one sentinel.
CREATE UNIQUE INDEX folders_sibling_name_key
  ON folders (org_id, COALESCE(parent_id, '00000000-0000-0000-0000-000000000000'::uuid), name);
CREATE INDEX folders_children_idx ON folders (org_id, parent_id, name, id);

CREATE TABLE files (
  id               uuid PRIMARY KEY,
  org_id           uuid NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
  folder_id        uuid REFERENCES folders(id),
  status           text NOT NULL CHECK (status IN ('pending', 'ready')),
  -- the tip: its version number and cid; 0 and NULL until the first content arrives
  ver              integer NOT NULL DEFAULT 0 CHECK (ver >= 0),
  cid              text,
  -- the tip's filename and label, for listing and searching without reading its version
  filename         text NOT NULL,
  label            text NOT NULL,
  -- what the next content version is made of once its bytes arrive (create without content, reupload)
  pending_content  jsonb,
  created_by_key_id uuid,
  created_at       timestamptz NOT NULL DEFAULT now(),
  updated_at       timestamptz NOT NULL DEFAULT now(),
  deleted_at       timestamptz,
  CONSTRAINT files_tip_has_cid CHECK ((ver = 0) = (cid IS NULL))
);
CREATE INDEX files_list_idx ON files (org_id, created_at DESC, id DESC);
CREATE INDEX files_folder_idx ON files (org_id, folder_id, created_at DESC, id DESC);

CREATE TABLE file_versions (
  file_id        uuid NOT NULL REFERENCES files(id) ON DELETE CASCADE,
  -- unique with file_id: of two writers on one tip, the second insert fails rather than forks the chain
  ver            integer NOT NULL CHECK (ver >= 1),
  org_id         uuid NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
  cid            text NOT NULL,
  prev_cid       text,
  -- the record's own clock, epoch milliseconds, as it was hashed into the cid
  ts             bigint NOT NULL,
  edited_by      jsonb NOT NULL,
  note           text,
  properties     jsonb NOT NULL,
  relationships  jsonb NOT NULL,
  folder_id      uuid,
  -- whose bytes this version's content is
  upload_id      uuid NOT NULL REFERENCES uploads(id),
  created_at     timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (file_id, ver),
  CONSTRAINT file_versions_chain CHECK ((ver = 1) = (prev_cid IS NULL))
);
CREATE INDEX file_versions_upload_idx ON file_versions (upload_id);
