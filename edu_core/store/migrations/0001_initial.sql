-- The first schema: classes, teacher sessions, students, content-addressed blobs, face data,
-- photos, label history, splits, models and training runs.
CREATE TABLE classes(
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    join_code TEXT NOT NULL UNIQUE,
    labels TEXT NOT NULL,
    display_names TEXT NOT NULL DEFAULT '{}',
    pin_salt BLOB NOT NULL,
    pin_hash BLOB NOT NULL,
    pin_failures INTEGER NOT NULL DEFAULT 0,
    pin_locked_until REAL NOT NULL DEFAULT 0,
    retention_days INTEGER,
    created_at REAL NOT NULL
);
CREATE TABLE teacher_sessions(
    token TEXT PRIMARY KEY,
    class_id INTEGER NOT NULL REFERENCES classes(id) ON DELETE CASCADE,
    expires_at REAL NOT NULL
);
CREATE TABLE students(
    id INTEGER PRIMARY KEY,
    class_id INTEGER NOT NULL REFERENCES classes(id) ON DELETE CASCADE,
    nickname TEXT NOT NULL,
    resume_code TEXT NOT NULL UNIQUE,
    pool_consent INTEGER NOT NULL DEFAULT 0,
    created_at REAL NOT NULL,
    last_seen REAL
);
CREATE INDEX students_class ON students(class_id);
CREATE TABLE blobs(
    sha TEXT PRIMARY KEY,
    ext TEXT NOT NULL,
    size INTEGER NOT NULL,
    created_at REAL NOT NULL
);
CREATE TABLE trash(sha TEXT PRIMARY KEY, ext TEXT NOT NULL);
CREATE TABLE faces(
    sha TEXT PRIMARY KEY REFERENCES blobs(sha),
    version TEXT NOT NULL DEFAULT '',
    status TEXT NOT NULL CHECK (status IN ('ok', 'rejected')),
    reason TEXT,
    detail TEXT NOT NULL DEFAULT '',
    image_size TEXT,
    box TEXT,
    crop_box TEXT,
    crop_sha TEXT REFERENCES blobs(sha),
    landmarks BLOB,
    blendshapes TEXT NOT NULL DEFAULT '{}',
    pose TEXT,
    quality TEXT NOT NULL DEFAULT '{}',
    keep INTEGER NOT NULL DEFAULT 0,
    created_at REAL NOT NULL
);
CREATE INDEX faces_crop ON faces(crop_sha);
CREATE TABLE images(
    id INTEGER PRIMARY KEY,
    student_id INTEGER NOT NULL REFERENCES students(id) ON DELETE CASCADE,
    class_id INTEGER NOT NULL REFERENCES classes(id) ON DELETE CASCADE,
    sha TEXT NOT NULL REFERENCES blobs(sha),
    filename TEXT NOT NULL,
    source TEXT NOT NULL CHECK (source IN ('upload', 'camera', 'sample')),
    person TEXT,
    grp TEXT,
    label TEXT,
    injected INTEGER NOT NULL DEFAULT 0,
    label_before_injection TEXT,
    created_at REAL NOT NULL,
    UNIQUE(student_id, sha)
);
CREATE INDEX images_class ON images(class_id, label);
CREATE INDEX images_sha ON images(sha);
CREATE INDEX images_created ON images(class_id, created_at);
CREATE TABLE label_events(
    id INTEGER PRIMARY KEY,
    image_id INTEGER NOT NULL REFERENCES images(id) ON DELETE CASCADE,
    old_label TEXT,
    new_label TEXT,
    actor TEXT NOT NULL,
    injected INTEGER NOT NULL DEFAULT 0,
    at REAL NOT NULL
);
CREATE INDEX label_events_image ON label_events(image_id);
CREATE TABLE splits(
    id INTEGER PRIMARY KEY,
    class_id INTEGER NOT NULL REFERENCES classes(id) ON DELETE CASCADE,
    student_id INTEGER REFERENCES students(id) ON DELETE CASCADE,
    seed INTEGER NOT NULL,
    test_ratio REAL NOT NULL,
    by_person INTEGER NOT NULL DEFAULT 0,
    created_at REAL NOT NULL
);
CREATE TABLE split_items(
    split_id INTEGER NOT NULL REFERENCES splits(id) ON DELETE CASCADE,
    image_id INTEGER NOT NULL REFERENCES images(id) ON DELETE CASCADE,
    part TEXT NOT NULL CHECK (part IN ('train', 'test')),
    PRIMARY KEY(split_id, image_id)
) WITHOUT ROWID;
CREATE INDEX split_items_image ON split_items(image_id);
CREATE TABLE models(
    id INTEGER PRIMARY KEY,
    class_id INTEGER NOT NULL REFERENCES classes(id) ON DELETE CASCADE,
    student_id INTEGER REFERENCES students(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    kind TEXT NOT NULL,
    labels TEXT NOT NULL,
    config TEXT NOT NULL DEFAULT '{}',
    file_sha TEXT REFERENCES blobs(sha),
    created_at REAL NOT NULL
);
CREATE INDEX models_file ON models(file_sha);
CREATE TABLE runs(
    id INTEGER PRIMARY KEY,
    class_id INTEGER NOT NULL REFERENCES classes(id) ON DELETE CASCADE,
    student_id INTEGER REFERENCES students(id) ON DELETE CASCADE,
    model_id INTEGER REFERENCES models(id) ON DELETE SET NULL,
    split_id INTEGER REFERENCES splits(id) ON DELETE SET NULL,
    status TEXT NOT NULL DEFAULT 'running',
    config TEXT NOT NULL DEFAULT '{}',
    metrics TEXT NOT NULL DEFAULT '{}',
    started_at REAL NOT NULL,
    finished_at REAL
);
