-- Parts, their revisions, and the uploads linked to each revision as datasets.

CREATE TABLE parts (
  id                 uuid PRIMARY KEY,
  org_id             uuid NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
  part_number        text NOT NULL,
  description        text,
  classification_id  uuid,
  make_or_buy        text CHECK (make_or_buy IN ('make', 'buy')),
  procurement_type   text CHECK (procurement_type IN ('in_house', 'external', 'both')),
  base_uom           text NOT NULL DEFAULT 'EA',
  default_currency   text CHECK (default_currency ~ '^[A-Z]{3}$'),
  lead_time_days     integer CHECK (lead_time_days >= 0),
  attributes         jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(attributes) = 'object'),
  created_at         timestamptz NOT NULL DEFAULT now(),
  updated_at         timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT parts_org_part_number_key UNIQUE (org_id, part_number)
);
CREATE INDEX parts_org_created_idx ON parts (org_id, created_at DESC, id DESC);
CREATE INDEX parts_org_classification_idx ON parts (org_id, classification_id) WHERE classification_id IS NOT NULL;

CREATE TABLE part_revisions (
  id                  uuid PRIMARY KEY,
  org_id              uuid NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
  part_id             uuid NOT NULL REFERENCES parts(id) ON DELETE CASCADE,
  revision_code       text NOT NULL,
  parent_revision_id  uuid,
  -- kept as given: change requests live in another system
  change_request_id   text,
  attributes          jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(attributes) = 'object'),
  created_at          timestamptz NOT NULL DEFAULT now(),
  updated_at          timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT part_revisions_part_code_key UNIQUE (part_id, revision_code),
  -- the target of the lineage key below
  CONSTRAINT part_revisions_part_id_key UNIQUE (part_id, id),
  -- a parent is a revision of the same part; NO ACTION (not RESTRICT) so deleting the part removes a whole lineage
  CONSTRAINT part_revisions_parent_fkey FOREIGN KEY (part_id, parent_revision_id) REFERENCES part_revisions (part_id, id)
);
CREATE INDEX part_revisions_part_created_idx ON part_revisions (part_id, created_at DESC, id DESC);
CREATE INDEX part_revisions_parent_idx ON part_revisions (parent_revision_id) WHERE parent_revision_id IS NOT NULL;

CREATE TABLE dataset_links (
  id                uuid PRIMARY KEY,
  org_id            uuid NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
  part_revision_id  uuid NOT NULL REFERENCES part_revisions(id) ON DELETE CASCADE,
  -- NO ACTION: an upload a revision uses is never removed from under it; detaching never removes the upload
  upload_id         uuid NOT NULL REFERENCES uploads(id),
  role              text NOT NULL,
  is_primary        boolean NOT NULL DEFAULT false,
  is_active         boolean NOT NULL DEFAULT true,
  attributes        jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(attributes) = 'object'),
  created_at        timestamptz NOT NULL DEFAULT now(),
  updated_at        timestamptz NOT NULL DEFAULT now(),
  superseded_at     timestamptz,
  -- a superseded link is history: it can never be the primary
  CONSTRAINT dataset_links_primary_is_active CHECK (NOT is_primary OR is_active)
);
-- At most one primary per revision, whatever the service does; the service supplies "at least one".
CREATE UNIQUE INDEX dataset_links_one_primary_idx ON dataset_links (part_revision_id) WHERE is_primary;
-- One active link per upload and revision.
CREATE UNIQUE INDEX dataset_links_active_upload_idx ON dataset_links (part_revision_id, upload_id) WHERE is_active;
CREATE INDEX dataset_links_revision_created_idx ON dataset_links (part_revision_id, created_at DESC, id DESC);
CREATE INDEX dataset_links_upload_idx ON dataset_links (upload_id);
