"""Teacher PINs and sessions per class, and the server's teacher password.

PINs and the password are kept as salted scrypt hashes only. The teacher password is the door
to everything a teacher does in the app: creating a class, the list of classes and opening one
(which then also takes that class's PIN). Students never get past it.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
from pathlib import Path
from typing import Any, Literal

from edu_core.errors import StoreError
from edu_core.fsutil import atomic_write
from edu_core.store.db import BadPin, Forbidden, NotFound, PinLocked, StoreBase, _now, _translate
from edu_core.store.records import TeacherSession

#: The server's teacher password, set by whoever starts the server (wins over the stored one).
TEACHER_PASSWORD_ENV = "EXPRESSION_LAB_TEACHER_PASSWORD"
TEACHER_PASSWORD_FILE = "teacher_password.json"  # in the data folder: a salted scrypt hash only
TEACHER_PASSWORD_MIN = 8
# Letters and digits that cannot be mistaken for each other when read off a board.
CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"


def _code(length: int) -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(length))


def new_teacher_password() -> str:
    """A random teacher password that is easy to read off a terminal: ``XXXX-XXXX-XXXX`` (about 59 bits)."""
    return "-".join(_code(4) for _ in range(3))


class AuthMixin(StoreBase):
    """Class PINs, teacher sessions and the server's teacher password."""

    def _hash_pin(self, pin: str, salt: bytes) -> bytes:
        return hashlib.scrypt(pin.encode("utf-8"), salt=salt, n=self.cfg.scrypt_n, r=8, p=1, dklen=32)

    def _new_session(self, class_id: int) -> TeacherSession:
        token = secrets.token_urlsafe(24)
        expires = _now() + self.cfg.teacher_session_s
        with self._tx() as conn:
            conn.execute("DELETE FROM teacher_sessions WHERE expires_at < ?", (_now(),))
            conn.execute(
                "INSERT INTO teacher_sessions(token, class_id, expires_at) VALUES (?, ?, ?)",
                (token, class_id, expires),
            )
        return TeacherSession(class_id, token, expires)

    def teacher_login(self, class_id: int, pin: str) -> TeacherSession:
        """Check the teacher PIN; too many wrong tries lock the class for a while (``pin_locked``)."""
        rows = self._read(
            "SELECT pin_salt, pin_hash, pin_failures, pin_locked_until FROM classes WHERE id = ?", (class_id,)
        )
        if not rows:
            raise NotFound(detail=f"class {class_id}")
        locked_until = rows[0]["pin_locked_until"]
        if locked_until > _now():
            raise PinLocked(detail=f"{locked_until - _now():.0f} s")
        good = hmac.compare_digest(self._hash_pin(pin, rows[0]["pin_salt"]), rows[0]["pin_hash"])
        with self._tx() as conn:
            if good:
                conn.execute("UPDATE classes SET pin_failures = 0 WHERE id = ?", (class_id,))
            else:
                failures = conn.execute(
                    "SELECT pin_failures FROM classes WHERE id = ?", (class_id,)
                ).fetchone()
                count = failures["pin_failures"] + 1
                lock = _now() + self.cfg.pin_lock_s if count >= self.cfg.pin_max_failures else 0.0
                conn.execute(
                    "UPDATE classes SET pin_failures = ?, pin_locked_until = ? WHERE id = ?",
                    (0 if lock else count, lock, class_id),
                )
        if not good:
            raise BadPin()
        return self._new_session(class_id)

    def _check_session(self, session: TeacherSession) -> int:
        rows = self._read(
            "SELECT class_id, expires_at FROM teacher_sessions WHERE token = ?", (session.token,)
        )
        if not rows or rows[0]["class_id"] != session.class_id or rows[0]["expires_at"] < _now():
            raise Forbidden(detail="teacher session expired or unknown")
        return session.class_id

    def teacher_logout(self, session: TeacherSession) -> None:
        """End a teacher session (the token stops working at once)."""
        with self._tx() as conn:
            conn.execute("DELETE FROM teacher_sessions WHERE token = ?", (session.token,))

    def change_pin(self, session: TeacherSession, new_pin: str) -> None:
        """Set a new teacher PIN (salted scrypt hash, like the first one)."""
        class_id = self._check_session(session)
        if len(new_pin) < 4:
            raise StoreError("pin_too_short", "at least 4 characters")
        salt = secrets.token_bytes(16)
        digest = self._hash_pin(new_pin, salt)
        with self._tx() as conn:
            conn.execute(
                "UPDATE classes SET pin_salt = ?, pin_hash = ? WHERE id = ?", (salt, digest, class_id)
            )

    def session_alive(self, session: TeacherSession) -> bool:
        """Whether a teacher session still works (not logged out, expired or ended by a password reset)."""
        try:
            self._check_session(session)
        except Forbidden:
            return False
        return True

    # ------------------------------------------------------------------ the server's teacher password

    @property
    def teacher_password_file(self) -> Path:
        return self.root / TEACHER_PASSWORD_FILE

    def _password_record(self) -> dict[str, Any] | None:
        try:
            record = json.loads(self.teacher_password_file.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            raise StoreError("store_error", f"{self.teacher_password_file}: {exc}") from exc
        return record if isinstance(record, dict) and "hash" in record else None

    def teacher_password_source(self) -> Literal["env", "file"] | None:
        """Where the teacher password comes from: the environment variable, the data folder, or nowhere."""
        if os.environ.get(TEACHER_PASSWORD_ENV, ""):
            return "env"
        return "file" if self._password_record() is not None else None

    def teacher_password_stamp(self) -> str | None:
        """A value that changes whenever the teacher password changes (None while there is none)."""
        env = os.environ.get(TEACHER_PASSWORD_ENV, "")
        if env:
            return "env:" + hashlib.sha256(env.encode("utf-8")).hexdigest()[:16]
        record = self._password_record()
        return None if record is None else "file:" + str(record["hash"])[:16]

    def check_teacher_password(self, password: str) -> bool:
        """Whether ``password`` is the server's teacher password (False while none is set)."""
        given = password.encode("utf-8")
        env = os.environ.get(TEACHER_PASSWORD_ENV, "")
        if env:
            return hmac.compare_digest(hashlib.sha256(given).digest(), hashlib.sha256(env.encode()).digest())
        record = self._password_record()
        if record is None:
            return False
        salt = bytes.fromhex(record["salt"])
        n = int(record.get("scrypt_n", self.cfg.scrypt_n))
        digest = hashlib.scrypt(given, salt=salt, n=n, r=8, p=1, dklen=32)
        return hmac.compare_digest(digest, bytes.fromhex(record["hash"]))

    def _write_password(self, password: str, *, replace: bool) -> bool:
        salt = secrets.token_bytes(16)
        record = {
            "salt": salt.hex(),
            "hash": self._hash_pin(password, salt).hex(),
            "scrypt_n": self.cfg.scrypt_n,
            "set_at": _now(),
        }
        try:
            # exclusive: two servers starting at once, the first one's password stays
            return atomic_write(
                self.teacher_password_file,
                json.dumps(record),
                durable=self.cfg.durable,
                mode=0o600,
                exclusive=not replace,
            )
        except OSError as exc:
            raise _translate(exc) from exc

    def ensure_teacher_password(self) -> str | None:
        """Make a teacher password if there is none yet; returns it (to show once), else None.

        Only its hash is stored, so this is the one time anybody can read it.
        """
        if self.teacher_password_source() is not None:
            return None
        password = new_teacher_password()
        return password if self._write_password(password, replace=False) else None

    def set_teacher_password(self, password: str) -> None:
        """Store a new teacher password (its hash); every open teacher session ends."""
        if len(password) < TEACHER_PASSWORD_MIN:
            raise StoreError("password_too_short", f"at least {TEACHER_PASSWORD_MIN} characters")
        self._write_password(password, replace=True)
        with self._tx() as conn:
            conn.execute("DELETE FROM teacher_sessions")
