-- A rejected photo the student kept anyway ("it isn't covered"): the row is the flag, the
-- rejection reason stays in faces.reason, and the face is the one cut for this photo. Kept
-- photos stay out of the class pool until the teacher accepts them (accepted = 1).
CREATE TABLE kept_faces(
    image_id INTEGER PRIMARY KEY REFERENCES images(id) ON DELETE CASCADE,
    detail TEXT NOT NULL DEFAULT '',
    box TEXT,
    crop_box TEXT,
    crop_sha TEXT REFERENCES blobs(sha),
    landmarks BLOB,
    blendshapes TEXT NOT NULL DEFAULT '{}',
    pose TEXT,
    quality TEXT NOT NULL DEFAULT '{}',
    accepted INTEGER NOT NULL DEFAULT 0,
    created_at REAL NOT NULL
);
CREATE INDEX kept_faces_crop ON kept_faces(crop_sha);
