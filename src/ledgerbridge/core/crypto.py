"""Encrypted model fields on Fernet, with keys that rotate without downtime.

Keys come from LEDGERBRIDGE_SECRET_KEYS (comma-separated Fernet keys, newest first) or, when that
is unset, from the key file LEDGERBRIDGE_HOME/fernet_keys (one key a line, newest first), which is
generated with mode 0600 on first use. New values are encrypted with the first key and any listed
key decrypts, so a new key can be put first while old values still read; `ledgerbridge
rotate-keys` then re-encrypts stored values with the newest key.

Encrypted columns cannot be searched: the same value encrypts differently every time, so only
`isnull` lookups are allowed (anything else would silently match nothing).
"""

import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django import forms
from django.apps import apps
from django.conf import settings
from django.core import checks, exceptions
from django.core.exceptions import ImproperlyConfigured
from django.db import models
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models.expressions import Expression
from django.db.models.lookups import Lookup, Transform

ENV_VAR = "LEDGERBRIDGE_SECRET_KEYS"
GENERATE_HINT = (
    'python -c "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())"'
)

# Set/get types for django-stubs; the mypy plugin fills them from _pyi_private_*_type.
_ST = TypeVar("_ST", contravariant=True)
_GT = TypeVar("_GT", covariant=True)


class DecryptionError(Exception):
    """A stored value that none of the configured keys opens (its key was probably removed)."""


@dataclass(frozen=True)
class _Keyring:
    signature: tuple[object, ...]
    newest: Fernet
    any_key: MultiFernet


_keyring_cache: _Keyring | None = None


def keys_from_environment() -> bool:
    """True when LEDGERBRIDGE_SECRET_KEYS supplies the keys (so the key file is not used)."""
    return bool(settings.SECRET_KEYS)


def key_file() -> Path:
    return Path(settings.SECRET_KEYS_FILE)


def _write_private_temp(directory: Path, keys: list[str]) -> Path:
    # mkstemp creates the file with mode 0600, so the keys are never readable by others.
    fd, name = tempfile.mkstemp(dir=directory, prefix=".fernet_keys.", suffix=".tmp")
    with os.fdopen(fd, "w") as handle:
        handle.write("".join(f"{key}\n" for key in keys))
        handle.flush()
        os.fsync(handle.fileno())
    return Path(name)


def _create_key_file(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = _write_private_temp(path.parent, [Fernet.generate_key().decode()])
    try:
        # link() creates the name only if absent, fully written: a racing process's file wins.
        os.link(temp, path)
    except FileExistsError:
        pass
    except OSError:
        # Filesystems without hard links: O_EXCL still refuses to overwrite a racing winner.
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass
        else:
            with os.fdopen(fd, "w") as handle:
                handle.write(temp.read_text())
    finally:
        temp.unlink()


def _read_key_file(path: Path) -> list[str]:
    return [line.strip() for line in path.read_text().splitlines() if line.strip()]


def _keyring() -> _Keyring:
    global _keyring_cache
    env_keys = list(settings.SECRET_KEYS)
    path = key_file()
    if env_keys:
        signature: tuple[object, ...] = ("env", *env_keys)
        source = ENV_VAR
    else:
        if not path.exists():
            _create_key_file(path)
        # The stat is in the signature so a long-running process sees keys rotate-keys added.
        stat = path.stat()
        signature = ("file", str(path), stat.st_ino, stat.st_mtime_ns, stat.st_size)
        source = f"the key file {path}"
    cached = _keyring_cache
    if cached is not None and cached.signature == signature:
        return cached
    keys = env_keys or _read_key_file(path)
    if not keys:
        raise ImproperlyConfigured(
            f"No Fernet keys in {source}. Generate one with: {GENERATE_HINT}"
        )
    fernets = []
    for position, key in enumerate(keys, start=1):
        try:
            fernets.append(Fernet(key))
        except ValueError:
            # Never echo the key itself: a near-miss is still secret material.
            raise ImproperlyConfigured(
                f"Key {position} in {source} is not a valid Fernet key (32 url-safe "
                f"base64-encoded bytes). Generate one with: {GENERATE_HINT}"
            ) from None
    keyring = _Keyring(signature=signature, newest=fernets[0], any_key=MultiFernet(fernets))
    _keyring_cache = keyring
    return keyring


def _undecryptable(what: str) -> DecryptionError:
    where = ENV_VAR
    if not keys_from_environment():
        where += f" or from the key file {key_file()} (used while {ENV_VAR} is unset)"
    return DecryptionError(
        f"Cannot decrypt {what}: none of the configured keys opens it. The key it was encrypted "
        f"with was probably removed from {where}. Put that key back after the newer ones, then "
        "run `ledgerbridge rotate-keys` to re-encrypt with the newest key."
    )


def encrypt(plaintext: str) -> str:
    """A Fernet token for `plaintext`, made with the newest key."""
    return _keyring().newest.encrypt(plaintext.encode()).decode()


def decrypt(token: str, *, what: str = "a stored value") -> str:
    """The plaintext of a token made with any configured key; DecryptionError names `what`."""
    try:
        return _keyring().any_key.decrypt(token.encode()).decode()
    except InvalidToken:
        raise _undecryptable(what) from None


def is_current(token: str) -> bool:
    """True if `token` was made with the newest key (so rotate-keys can leave it alone)."""
    try:
        _keyring().newest.decrypt(token.encode())
    except InvalidToken:
        return False
    return True


def reencrypt(token: str, *, what: str = "a stored value") -> str:
    """The same plaintext as a token made with the newest key."""
    try:
        return _keyring().any_key.rotate(token.encode()).decode()
    except InvalidToken:
        raise _undecryptable(what) from None


def add_key_to_file() -> int:
    """Generate a key and put it first in the key file, keeping the older ones so values they
    encrypted still decrypt. Returns how many keys the file now holds."""
    global _keyring_cache
    if keys_from_environment():
        raise ImproperlyConfigured(
            f"Keys come from {ENV_VAR}, so the key file is not used: put a new key first in "
            f"{ENV_VAR} and restart. Generate one with: {GENERATE_HINT}"
        )
    path = key_file()
    if not path.exists():
        _create_key_file(path)
        _keyring_cache = None
        return len(_read_key_file(path))
    keys = [Fernet.generate_key().decode(), *_read_key_file(path)]
    # Replace atomically so a process reading the file never sees it half written.
    _write_private_temp(path.parent, keys).replace(path)
    _keyring_cache = None
    return len(keys)


if TYPE_CHECKING:
    _TextFieldBase = models.TextField
else:
    # TextField is generic only in django-stubs; this makes `[_ST, _GT]` work at runtime too.
    class _TextFieldBase[S, G](models.TextField):
        pass


class EncryptedField(_TextFieldBase[_ST, _GT]):
    """A Fernet token in a text column; None stays NULL. Subclasses say how values become text."""

    def _to_text(self, value: Any) -> str:
        raise NotImplementedError

    def _from_text(self, text: str) -> Any:
        raise NotImplementedError

    def _label(self) -> str:
        model = getattr(self, "model", None)
        if model is None:
            return f"encrypted field {self.name or '(unbound)'}"
        return f"{model._meta.label}.{self.name}"

    def get_prep_value(self, value: Any) -> Any:
        if value is None:
            return None
        return encrypt(self._to_text(value))

    def from_db_value(
        self, value: str | None, expression: Expression, connection: BaseDatabaseWrapper
    ) -> Any:
        if value is None:
            return None
        return self._from_text(decrypt(value, what=self._label()))

    def get_lookup(self, lookup_name: str) -> type[Lookup[Any]] | None:
        # Equality, LIKE and the rest would compare ciphertexts and silently match nothing.
        return super().get_lookup(lookup_name) if lookup_name == "isnull" else None

    def get_transform(self, lookup_name: str) -> type[Transform] | None:
        return None

    def check(self, **kwargs: Any) -> list[checks.CheckMessage]:
        errors = super().check(**kwargs)
        # django-stubs omits Field.db_index, though Django sets it on every field.
        if self.unique or getattr(self, "db_index", False):
            errors.append(
                checks.Error(
                    "Encrypted fields cannot be unique or indexed: the same value encrypts "
                    "differently every time, so the database cannot compare them.",
                    obj=self,
                    id="ledgerbridge.E001",
                )
            )
        return errors


class EncryptedTextField(EncryptedField[_ST, _GT]):
    """Text stored encrypted; reads back as str."""

    def _to_text(self, value: Any) -> str:
        return value if isinstance(value, str) else str(value)

    def _from_text(self, text: str) -> str:
        return text


class EncryptedJSONField(EncryptedField[_ST, _GT]):
    """A JSON value stored encrypted; reads back as the decoded value (dict, list, …)."""

    _pyi_private_set_type: Any
    _pyi_private_get_type: Any

    def __init__(
        self,
        *args: Any,
        encoder: type[json.JSONEncoder] | None = None,
        decoder: type[json.JSONDecoder] | None = None,
        **kwargs: Any,
    ) -> None:
        self.encoder = encoder
        self.decoder = decoder
        super().__init__(*args, **kwargs)

    def deconstruct(self) -> Any:
        name, path, args, kwargs = super().deconstruct()
        if self.encoder is not None:
            kwargs["encoder"] = self.encoder
        if self.decoder is not None:
            kwargs["decoder"] = self.decoder
        return name, path, args, kwargs

    def _to_text(self, value: Any) -> str:
        return json.dumps(value, cls=self.encoder, allow_nan=False)

    def _from_text(self, text: str) -> Any:
        return json.loads(text, cls=self.decoder)

    def to_python(self, value: Any) -> Any:
        # TextField.to_python would turn a dict into its repr during full_clean().
        return value

    def validate(self, value: Any, model_instance: models.Model | None) -> None:
        super().validate(value, model_instance)
        try:
            self._to_text(value)
        except (TypeError, ValueError):
            raise exceptions.ValidationError(
                "Value must be valid JSON.", code="invalid", params={"value": value}
            ) from None

    def value_to_string(self, obj: models.Model) -> Any:
        return self.value_from_object(obj)

    def formfield(self, **kwargs: Any) -> Any:
        defaults: dict[str, Any] = {
            "form_class": forms.JSONField,
            "encoder": self.encoder,
            "decoder": self.decoder,
        }
        # Skip TextField.formfield, which would force a CharField with a Textarea.
        return models.Field.formfield(self, **{**defaults, **kwargs})


def encrypted_columns() -> list[tuple[type[models.Model], list[EncryptedField[Any, Any]]]]:
    """Every model in every installed app with the encrypted columns it owns.

    Proxy models are skipped and inherited columns belong to their parent model, so each column
    is listed exactly once.
    """
    found: list[tuple[type[models.Model], list[EncryptedField[Any, Any]]]] = []
    for model in apps.get_models():
        if model._meta.proxy:
            continue
        fields = [
            field
            for field in model._meta.local_concrete_fields
            if isinstance(field, EncryptedField)
        ]
        if fields:
            found.append((model, fields))
    return found
