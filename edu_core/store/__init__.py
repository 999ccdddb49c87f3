"""The class data store: one SQLite file plus content-addressed image files.

About thirty students and a teacher write at the same time on one school server, and nothing
acknowledged may be lost. One :class:`Store` object is the whole interface; behind it each
concern has its own room:

=================  ===========================================================================
``db``             connections, pragmas (WAL, ``busy_timeout``), short ``BEGIN IMMEDIATE``
                   transactions, reason codes of SQLite (by result code) and OS errors
``migrations/``    the schema as numbered ``.sql`` files and the runner that applies them
``records``        the frozen records handed out, built from rows by column name
``access``         classes, join codes, students, resume codes, who may see what
``auth``           teacher PINs and sessions, the server's teacher password
``blobs``          content-addressed files: written before their rows, collected after
``photos``         photos and their face data, kept rejects, counts
``labels``         labels, person and group tags, label history, planted mistakes
``splits``         saved train/test splits
``runs``           trained models and training runs
``maintenance``    deleting, retention, the integrity check, crash recovery (``/proc``)
``cli``            ``python -m edu_core.store`` (not imported here: it is built on the data-set
                   tools, which are built on the store)
=================  ===========================================================================

Privacy: every read that returns a photo names who is asking (a student id or a verified
:class:`TeacherSession`) and is refused with ``forbidden`` otherwise. Nothing here ever touches
the network.
"""

from edu_core.errors import StoreError
from edu_core.store.access import SOLO_CLASS_NAME, SOLO_JOIN_CODE
from edu_core.store.auth import (
    CODE_ALPHABET,
    TEACHER_PASSWORD_ENV,
    TEACHER_PASSWORD_FILE,
    TEACHER_PASSWORD_MIN,
    new_teacher_password,
)
from edu_core.store.db import (
    DB_NAME,
    BadPin,
    Forbidden,
    NotFound,
    PinLocked,
    ReadOnly,
    StorageFull,
    StoreConfig,
)
from edu_core.store.facade import DATA_ENV, DEFAULT_ROOT, REPO_ROOT, Store, default_root, open_store
from edu_core.store.labels import normalize_group, normalize_label
from edu_core.store.migrations import MIGRATIONS, SCHEMA_VERSION
from edu_core.store.records import (
    SOURCES,
    CheckReport,
    ClassRecord,
    ImageRecord,
    LabelEvent,
    ModelRecord,
    NewImage,
    RecoveryReport,
    RunRecord,
    SavedSplit,
    Source,
    StudentRecord,
    TeacherSession,
)

__all__ = [
    "CODE_ALPHABET",
    "DATA_ENV",
    "DB_NAME",
    "DEFAULT_ROOT",
    "MIGRATIONS",
    "REPO_ROOT",
    "SCHEMA_VERSION",
    "SOLO_CLASS_NAME",
    "SOLO_JOIN_CODE",
    "SOURCES",
    "TEACHER_PASSWORD_ENV",
    "TEACHER_PASSWORD_FILE",
    "TEACHER_PASSWORD_MIN",
    "BadPin",
    "CheckReport",
    "ClassRecord",
    "Forbidden",
    "ImageRecord",
    "LabelEvent",
    "ModelRecord",
    "NewImage",
    "NotFound",
    "PinLocked",
    "ReadOnly",
    "RecoveryReport",
    "RunRecord",
    "SavedSplit",
    "Source",
    "StorageFull",
    "Store",
    "StoreConfig",
    "StoreError",
    "StudentRecord",
    "TeacherSession",
    "default_root",
    "new_teacher_password",
    "normalize_group",
    "normalize_label",
    "open_store",
]
