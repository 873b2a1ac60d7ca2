-- Status list entries are handed out in a random order fixed when the list is made: a
-- permutation of the list's indexes drawn from order_seed (see statusorder.go), so no index is
-- ever probed for or handed out twice. Lists made before this migration have no seed and take
-- no new entries; their credentials keep their entries.
ALTER TABLE status_lists ADD COLUMN order_seed BLOB;
