"""`ledgerbridge rotate-keys`: re-encrypt every encrypted column with the newest key.

Safe to run while LedgerBridge serves: each row is rewritten by one conditional UPDATE that only
applies if the stored token is still the one read, values already under the newest key are left
alone (so a second run re-encrypts nothing), and a lease keeps two runs from overlapping.
"""

import os
import socket
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import models, transaction
from django.db.models.functions import Cast
from django.db.models.lookups import Exact

from ledgerbridge.core import crypto, leases
from ledgerbridge.core.crypto import DecryptionError, EncryptedField

LEASE = "rotate-keys"
LEASE_TTL = timedelta(minutes=10)


def _raw(field: EncryptedField[Any, Any]) -> Cast:
    # Cast to a plain TextField so the ORM hands back the stored token, not the plaintext.
    return Cast(field.attname, output_field=models.TextField())


class Command(BaseCommand):
    help = (
        "Re-encrypt every encrypted column with the newest key. With --new-key, first generate a "
        "key and put it first in the key file (old keys stay, so old values still decrypt)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--new-key",
            action="store_true",
            help="Generate a new key first (key file only; with LEDGERBRIDGE_SECRET_KEYS set, "
            "put the new key first in that variable instead).",
        )
        parser.add_argument("--batch-size", type=int, default=500, help="Rows read at a time.")

    def handle(self, *args: Any, **options: Any) -> None:
        batch_size: int = options["batch_size"]
        if batch_size < 1:
            raise CommandError("--batch-size must be at least 1")
        with self._lease() as renew:
            if options["new_key"]:
                try:
                    count = crypto.add_key_to_file()
                except ImproperlyConfigured as error:
                    raise CommandError(str(error)) from None
                self.stdout.write(
                    f"Added a new key to {crypto.key_file()} ({count} "
                    f"{'key' if count == 1 else 'keys'}, newest first; older keys are kept so "
                    "existing values still decrypt)."
                )
            columns = crypto.encrypted_columns()
            if not columns:
                self.stdout.write("No encrypted columns in any installed app.")
                return
            failures: list[str] = []
            total = 0
            for model, fields in columns:
                counts = self._rotate_model(model, fields, batch_size, failures, renew)
                for field in fields:
                    total += counts[field.attname]
                    self.stdout.write(
                        f"{model._meta.label}.{field.name}: {counts[field.attname]} re-encrypted"
                    )
        self.stdout.write(f"Re-encrypted {total} values with the newest key.")
        if failures:
            shown = "\n  ".join(failures[:20])
            more = f"\n  … and {len(failures) - 20} more" if len(failures) > 20 else ""
            raise CommandError(
                f"{len(failures)} values could not be decrypted with any configured key (was a "
                f"key removed from {crypto.ENV_VAR} or the key file?):\n  {shown}{more}"
            )

    @contextmanager
    def _lease(self) -> Iterator[Callable[[], None]]:
        holder = f"{socket.gethostname()}:{os.getpid()}"
        if not leases.acquire(LEASE, holder, LEASE_TTL):
            raise CommandError(
                f"Another rotate-keys run is in progress ({leases.holder_of(LEASE)}); "
                "wait for it to finish."
            )

        def renew() -> None:
            if not leases.renew(LEASE, holder, LEASE_TTL):
                raise CommandError("Lost the rotate-keys lease; another run took over. Stopping.")

        try:
            yield renew
        finally:
            leases.release(LEASE, holder)

    def _rotate_model(
        self,
        model: type[models.Model],
        fields: list[EncryptedField[Any, Any]],
        batch_size: int,
        failures: list[str],
        renew: Callable[[], None],
    ) -> dict[str, int]:
        counts = dict.fromkeys((field.attname for field in fields), 0)
        aliases = {f"lb_raw_token_{index}": _raw(field) for index, field in enumerate(fields)}
        any_value = models.Q()
        for field in fields:
            any_value |= models.Q(**{f"{field.attname}__isnull": False})
        # The base manager sees every row, whatever the default manager filters out.
        rows = (
            model._base_manager.annotate(**aliases)
            .filter(any_value)
            .order_by("pk")
            .values_list("pk", *aliases)
        )
        last_pk: Any = None
        while True:
            batch = list((rows if last_pk is None else rows.filter(pk__gt=last_pk))[:batch_size])
            if not batch:
                return counts
            for pk, *tokens in batch:
                changed = self._rotate_row(model, fields, pk, tokens, failures)
                for attname in changed:
                    counts[attname] += 1
            last_pk = batch[-1][0]
            renew()

    def _rotate_row(
        self,
        model: type[models.Model],
        fields: list[EncryptedField[Any, Any]],
        pk: Any,
        tokens: list[str | None],
        failures: list[str],
    ) -> list[str]:
        new_values: dict[str, models.Value] = {}
        unchanged_since_read: list[Exact] = []
        for field, token in zip(fields, tokens, strict=True):
            if token is None or crypto.is_current(token):
                continue
            what = f"{model._meta.label}.{field.name} (pk {pk})"
            try:
                new_token = crypto.reencrypt(token, what=what)
            except DecryptionError:
                failures.append(what)
                continue
            # A plain-text Value writes the token as is; the field itself would encrypt it again.
            new_values[field.attname] = models.Value(new_token, output_field=models.TextField())
            unchanged_since_read.append(Exact(_raw(field), models.Value(token)))
        if not new_values:
            return []
        with transaction.atomic():
            # If someone saved the row since we read it, their fresh value wins; skip it.
            updated = model._base_manager.filter(*unchanged_since_read, pk=pk).update(**new_values)
        return list(new_values) if updated else []
