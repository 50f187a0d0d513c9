-- Housekeeping (docs/cluster.md, "Housekeeping"): collecting objects no index row references,
-- and uploads whose commit never happened.

-- Set on the row housekeeping inserts for an orphaned upload before it deletes the object. The
-- row stays: a commit of that upload, however late, then fails on the primary key and
-- acknowledges nothing, so it can never index frames of a deleted object. Committed objects
-- have no value here.
ALTER TABLE kinesin_objects ADD COLUMN collected_at timestamptz;

-- Finding the objects no frame references any more.
CREATE INDEX kinesin_frames_object ON kinesin_frames (object_key);
