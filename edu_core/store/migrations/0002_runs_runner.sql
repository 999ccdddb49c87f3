-- Which process trains a run (host:pid:process start time, see maintenance.runner_id), so a restart can
-- tell a run whose process was killed from one that another live process is still training.
ALTER TABLE runs ADD COLUMN runner TEXT;
