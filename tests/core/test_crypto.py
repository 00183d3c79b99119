import stat
from collections.abc import Iterator
from datetime import timedelta
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet
from django.core.exceptions import FieldError, ImproperlyConfigured
from django.core.management import CommandError, call_command
from django.db import connection, models
from django.test.utils import isolate_apps
from pytest_django import Settings

from ledgerbridge import cli
from ledgerbridge.core import crypto, leases
from ledgerbridge.core.crypto import DecryptionError, EncryptedTextField
from tests.testapp.models import Credential, RequiredSecret

SECRET = "xero-client-secret-7f3a9c"
SETTINGS = {"tenant_id": "d1b2c3-tenant", "scopes": ["accounting.transactions"], "retries": 3}


@pytest.fixture(autouse=True)
def key_file(tmp_path: Path, settings: Settings) -> Iterator[Path]:
    # Never touch the developer's real LEDGERBRIDGE_HOME/fernet_keys.
    path = tmp_path / "home" / "fernet_keys"
    settings.SECRET_KEYS = []
    settings.SECRET_KEYS_FILE = path
    yield path


def raw_row(model: type[models.Model], pk: int, *columns: str) -> tuple[Any, ...]:
    """The stored column values, read past the ORM so nothing is decrypted."""
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {', '.join(quote(c) for c in columns)} "  # noqa: S608 - names are ours
            f"FROM {quote(model._meta.db_table)} WHERE id = %s",
            [pk],
        )
        row = cursor.fetchone()
    assert row is not None
    return tuple(row)


def new_key() -> str:
    return Fernet.generate_key().decode()


@pytest.mark.django_db
def test_text_and_json_round_trip() -> None:
    created = Credential.objects.create(label="Xero", secret=SECRET, settings=SETTINGS)
    loaded = Credential.objects.get(pk=created.pk)
    assert loaded.secret == SECRET
    assert loaded.settings == SETTINGS


@pytest.mark.django_db
@pytest.mark.parametrize("value", ["", "ünïcødé ✓", "x" * 10_000])
def test_awkward_text_round_trips(value: str) -> None:
    created = Credential.objects.create(label="odd", secret=value)
    assert Credential.objects.get(pk=created.pk).secret == value


@pytest.mark.django_db
@pytest.mark.parametrize("value", [[1, "two", None], "just a string", 0, False, {"a": {"b": []}}])
def test_any_json_value_round_trips(value: Any) -> None:
    created = Credential.objects.create(label="json", settings=value)
    assert Credential.objects.get(pk=created.pk).settings == value


@pytest.mark.django_db
def test_raw_columns_hold_fernet_tokens_not_plaintext() -> None:
    created = Credential.objects.create(label="Xero", secret=SECRET, settings=SETTINGS)
    secret, settings_json = raw_row(Credential, created.pk, "secret", "settings")
    for raw in (secret, settings_json):
        assert isinstance(raw, str)
        assert raw.startswith("gAAAAA")  # Fernet version byte 0x80, base64-encoded
    assert SECRET not in secret
    for fragment in ("tenant", "d1b2c3", "accounting", "scopes"):
        assert fragment not in settings_json


@pytest.mark.django_db
def test_the_same_value_encrypts_differently_each_time() -> None:
    one = Credential.objects.create(label="a", secret=SECRET)
    two = Credential.objects.create(label="b", secret=SECRET)
    assert raw_row(Credential, one.pk, "secret") != raw_row(Credential, two.pk, "secret")


@pytest.mark.django_db
def test_none_stays_null() -> None:
    created = Credential.objects.create(label="empty", secret=None, settings=None)
    assert raw_row(Credential, created.pk, "secret", "settings") == (None, None)
    loaded = Credential.objects.get(pk=created.pk)
    assert (loaded.secret, loaded.settings) == (None, None)
    assert list(Credential.objects.filter(secret__isnull=True)) == [created]


@pytest.mark.django_db
def test_searching_encrypted_columns_is_refused_rather_than_matching_nothing() -> None:
    with pytest.raises(FieldError, match="Unsupported lookup 'exact'"):
        Credential.objects.filter(secret=SECRET).exists()
    with pytest.raises(FieldError, match="Unsupported lookup 'icontains'"):
        Credential.objects.filter(secret__icontains="xero").exists()


@pytest.mark.django_db
def test_update_and_bulk_update_encrypt_too() -> None:
    created = Credential.objects.create(label="a", secret="old")
    Credential.objects.filter(pk=created.pk).update(secret="via update")
    assert Credential.objects.get(pk=created.pk).secret == "via update"
    assert "via update" not in raw_row(Credential, created.pk, "secret")[0]
    created.secret = "via bulk_update"
    Credential.objects.bulk_update([created], ["secret"])
    assert Credential.objects.get(pk=created.pk).secret == "via bulk_update"
    assert "bulk" not in raw_row(Credential, created.pk, "secret")[0]


@pytest.mark.django_db
def test_full_clean_keeps_json_values_as_they_are() -> None:
    credential = Credential(label="a", settings={"a": 1})
    credential.full_clean()
    assert credential.settings == {"a": 1}


def test_key_file_is_generated_once_with_mode_0600(key_file: Path) -> None:
    assert not key_file.exists()
    token = crypto.encrypt("hello")
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    keys = key_file.read_text().splitlines()
    assert len(keys) == 1
    Fernet(keys[0])  # a valid key, one a line
    crypto.encrypt("again")
    assert key_file.read_text().splitlines() == keys  # reused, not regenerated
    assert crypto.decrypt(token) == "hello"


def test_environment_keys_win_over_the_key_file(key_file: Path, settings: Settings) -> None:
    key = new_key()
    settings.SECRET_KEYS = [key]
    token = crypto.encrypt("hello")
    assert not key_file.exists()
    assert Fernet(key).decrypt(token.encode()) == b"hello"


@pytest.mark.django_db
def test_old_key_still_decrypts_after_a_new_key_is_prepended(settings: Settings) -> None:
    old, new = new_key(), new_key()
    settings.SECRET_KEYS = [old]
    created = Credential.objects.create(label="Xero", secret=SECRET, settings=SETTINGS)

    settings.SECRET_KEYS = [new, old]
    loaded = Credential.objects.get(pk=created.pk)
    assert (loaded.secret, loaded.settings) == (SECRET, SETTINGS)
    # New writes use the first key.
    loaded.save()
    (token,) = raw_row(Credential, created.pk, "secret")
    assert Fernet(new).decrypt(token.encode()).decode() == SECRET


@pytest.mark.django_db
def test_add_key_to_file_puts_a_new_key_first_and_keeps_the_old(key_file: Path) -> None:
    created = Credential.objects.create(label="Xero", secret=SECRET)
    (old_key,) = key_file.read_text().splitlines()

    assert crypto.add_key_to_file() == 2

    keys = key_file.read_text().splitlines()
    assert keys[1] == old_key
    assert keys[0] != old_key
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert Credential.objects.get(pk=created.pk).secret == SECRET
    assert Fernet(keys[0]).decrypt(crypto.encrypt("fresh").encode()) == b"fresh"


def test_a_key_added_by_another_process_is_picked_up(key_file: Path) -> None:
    crypto.encrypt("warm the cache")
    newer = new_key()
    # What `ledgerbridge rotate-keys --new-key` in another process does to the shared file.
    key_file.write_text(f"{newer}\n{key_file.read_text()}")
    assert Fernet(newer).decrypt(crypto.encrypt("hello").encode()) == b"hello"


@pytest.mark.django_db
def test_rotate_keys_reencrypts_so_only_the_new_key_is_needed(
    key_file: Path, settings: Settings
) -> None:
    credential = Credential.objects.create(label="Xero", secret=SECRET, settings=SETTINGS)
    empty = Credential.objects.create(label="nothing yet")
    required = RequiredSecret.objects.create(token="psa-api-key")
    before = raw_row(Credential, credential.pk, "secret", "settings")
    required_before = raw_row(RequiredSecret, required.pk, "token")

    out = StringIO()
    call_command("rotate_keys", "--new-key", stdout=out)

    output = out.getvalue()
    assert "Added a new key" in output
    assert "testapp.Credential.secret: 1 re-encrypted" in output
    assert "testapp.Credential.settings: 1 re-encrypted" in output
    assert "testapp.RequiredSecret.token: 1 re-encrypted" in output
    after = raw_row(Credential, credential.pk, "secret", "settings")
    assert after[0] != before[0]
    assert after[1] != before[1]
    assert raw_row(RequiredSecret, required.pk, "token") != required_before
    assert raw_row(Credential, empty.pk, "secret", "settings") == (None, None)
    assert "label" not in output  # only encrypted columns are touched

    # Drop every old key: the re-encrypted values open with the newest alone.
    settings.SECRET_KEYS = [key_file.read_text().splitlines()[0]]
    loaded = Credential.objects.get(pk=credential.pk)
    assert (loaded.secret, loaded.settings) == (SECRET, SETTINGS)
    assert RequiredSecret.objects.get(pk=required.pk).token == "psa-api-key"


@pytest.mark.django_db
def test_rotate_keys_is_idempotent() -> None:
    credential = Credential.objects.create(label="Xero", secret=SECRET)
    call_command("rotate_keys", "--new-key", stdout=StringIO())
    token = raw_row(Credential, credential.pk, "secret")

    out = StringIO()
    call_command("rotate_keys", stdout=out)

    assert "testapp.Credential.secret: 0 re-encrypted" in out.getvalue()
    assert "Re-encrypted 0 values" in out.getvalue()
    assert raw_row(Credential, credential.pk, "secret") == token


@pytest.mark.django_db
def test_rotate_keys_changes_no_other_column(settings: Settings) -> None:
    old, new = new_key(), new_key()
    settings.SECRET_KEYS = [old]
    credential = Credential.objects.create(label="Xero", secret=SECRET)
    settings.SECRET_KEYS = [new, old]
    Credential.objects.filter(pk=credential.pk).update(label="renamed meanwhile")

    call_command("rotate_keys", "--batch-size", "1", stdout=StringIO())

    assert Credential.objects.get(pk=credential.pk).label == "renamed meanwhile"


@pytest.mark.django_db
def test_rotate_keys_walks_every_batch(settings: Settings) -> None:
    old, new = new_key(), new_key()
    settings.SECRET_KEYS = [old]
    for number in range(7):
        Credential.objects.create(label=f"c{number}", secret=f"s{number}")
    settings.SECRET_KEYS = [new, old]
    out = StringIO()

    call_command("rotate_keys", "--batch-size", "3", stdout=out)

    assert "testapp.Credential.secret: 7 re-encrypted" in out.getvalue()
    settings.SECRET_KEYS = [new]
    assert sorted(c.secret or "" for c in Credential.objects.all()) == [f"s{n}" for n in range(7)]


@pytest.mark.django_db
def test_rotate_keys_new_key_refuses_when_keys_come_from_the_environment(
    settings: Settings,
) -> None:
    settings.SECRET_KEYS = [new_key()]
    with pytest.raises(CommandError, match="put a new key first in LEDGERBRIDGE_SECRET_KEYS"):
        call_command("rotate_keys", "--new-key", stdout=StringIO())


@pytest.mark.django_db
def test_rotate_keys_reports_values_no_key_opens(settings: Settings) -> None:
    lost, kept = new_key(), new_key()
    settings.SECRET_KEYS = [lost]
    orphan = Credential.objects.create(label="orphan", secret=SECRET)
    settings.SECRET_KEYS = [kept]
    fine = Credential.objects.create(label="fine", secret="ok")

    with pytest.raises(CommandError) as raised:
        call_command("rotate_keys", stdout=StringIO())

    message = str(raised.value)
    assert "1 values could not be decrypted" in message
    assert f"testapp.Credential.secret (pk {orphan.pk})" in message
    assert SECRET not in message
    assert Credential.objects.get(pk=fine.pk).secret == "ok"


@pytest.mark.django_db
def test_the_cli_maps_rotate_keys_with_a_dash(capsys: pytest.CaptureFixture[str]) -> None:
    Credential.objects.create(label="Xero", secret=SECRET)
    cli.main(["ledgerbridge", "rotate-keys"])
    assert "testapp.Credential.secret: 0 re-encrypted" in capsys.readouterr().out


@pytest.mark.django_db
def test_a_removed_key_gives_a_clear_error_without_secrets(settings: Settings) -> None:
    removed, current = new_key(), new_key()
    settings.SECRET_KEYS = [removed]
    created = Credential.objects.create(label="Xero", secret=SECRET)
    settings.SECRET_KEYS = [current]

    with pytest.raises(DecryptionError) as raised:
        Credential.objects.get(pk=created.pk)

    message = str(raised.value)
    assert "Cannot decrypt testapp.Credential.secret" in message
    assert "probably removed from LEDGERBRIDGE_SECRET_KEYS" in message
    for secret in (SECRET, removed, current):
        assert secret not in message
    assert raised.value.__cause__ is None  # no chained InvalidToken noise


@pytest.mark.django_db
def test_a_removed_key_file_key_names_the_file_too(key_file: Path) -> None:
    created = Credential.objects.create(label="Xero", settings=SETTINGS)
    key_file.write_text(f"{new_key()}\n")  # the old key is gone

    with pytest.raises(DecryptionError, match="settings") as raised:
        Credential.objects.get(pk=created.pk)

    assert "LEDGERBRIDGE_SECRET_KEYS" in str(raised.value)
    assert str(key_file) in str(raised.value)


@pytest.mark.parametrize("bad", ["not-a-key", "c2VjcmV0LWJ1dC1ub3QtMzItYnl0ZXM="])
def test_an_invalid_key_is_a_configuration_error_that_hides_the_key(
    settings: Settings, bad: str
) -> None:
    settings.SECRET_KEYS = [new_key(), bad]
    with pytest.raises(ImproperlyConfigured, match="Key 2 in LEDGERBRIDGE_SECRET_KEYS") as raised:
        crypto.encrypt("hello")
    assert bad not in str(raised.value)


def test_an_empty_key_file_is_a_configuration_error(key_file: Path) -> None:
    key_file.parent.mkdir(parents=True)
    key_file.write_text("\n")
    with pytest.raises(ImproperlyConfigured, match="No Fernet keys"):
        crypto.encrypt("hello")


@isolate_apps("tests.testapp")
def test_unique_or_indexed_encrypted_fields_fail_the_system_check() -> None:
    class Unsearchable(models.Model):
        token = EncryptedTextField(unique=True)
        other = EncryptedTextField(db_index=True)
        fine = EncryptedTextField()

        class Meta:
            app_label = "testapp"

        def __str__(self) -> str:
            return "unsearchable"

    errors = {
        name: [error.id for error in Unsearchable._meta.get_field(name).check()]
        for name in ("token", "other", "fine")
    }
    assert errors == {"token": ["ledgerbridge.E001"], "other": ["ledgerbridge.E001"], "fine": []}


@pytest.mark.django_db
def test_rotate_keys_refuses_to_overlap_another_run() -> None:
    assert leases.acquire("rotate-keys", "other-host:123", timedelta(minutes=10))
    with pytest.raises(CommandError, match=r"Another rotate-keys run .*other-host:123"):
        call_command("rotate_keys", "--new-key", stdout=StringIO())
