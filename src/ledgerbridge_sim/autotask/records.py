"""Writing Autotask records: create (POST), partial update (PATCH), replace (PUT), delete.

The service's write rules, as the simulator applies them:
- Field names in bodies are matched without regard to case; names the entity does not have are
  ignored (ASP.NET model binding drops them).
- PATCH and PUT go to the collection URL with `id` in the body. PATCH changes only the fields
  sent; PUT replaces every writable field, so one left out becomes null (a boolean: false).
- A read-only field may be sent (a client PUTs back what it read) but not changed: a different
  value is refused [U — the real service rejects some and ignores others]. On Invoices only
  `invoiceNumber`, `paidDate` and `webServiceDate` are writable; on BillingItems only
  `webServiceDate`.
- Required fields, field types (booleans must be real JSON booleans, never null), text
  lengths, picklist values and references to other records are checked; every failure is
  collected and answered as HTTP 500 `{"errors": [...]}`, as the service does.
- Date-only fields (`paidDate`, …) are stored at midnight, the time dropped.
- Missing ids on update or delete: 500 "No matching records found." as the service answers.
"""

import math
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from ledgerbridge_sim.autotask.entities import ENTITIES, Entity, Field, blank_record
from ledgerbridge_sim.autotask.wire import AutotaskError, format_moment, normalise_moment
from ledgerbridge_sim.state import Simulator, SystemState

SYSTEM = "autotask"


class FieldProblemError(ValueError):
    """A value that does not fit its field; the message is the one the service sends."""


def state(sim: Simulator) -> SystemState:
    return sim.system(SYSTEM)


def allocate_id(system: SystemState, entity: str) -> int:
    """The next id for `entity`: above every id it has ever had (explicit seeds included)."""
    highs: dict[str, int] = system.extra.setdefault("id_high_water", {})
    rows = system.collection(entity)
    high = highs.get(entity)
    if high is None:
        high = max(rows, default=0)
    new_id = high + 1
    while new_id in rows:
        new_id += 1
    highs[entity] = new_id
    return new_id


def store(system: SystemState, entity: str, record: dict[str, Any]) -> dict[str, Any]:
    """Insert a complete record (its id set), keeping the id allocator above it."""
    record_id = int(record["id"])
    system.collection(entity)[record_id] = record
    highs: dict[str, int] = system.extra.setdefault("id_high_water", {})
    if record_id > highs.get(entity, 0):
        highs[entity] = record_id
    return record


def coerce(field: Field, value: Any, *, lenient: bool = False) -> Any:
    """A client's value converted to how the field is stored; raises FieldProblemError.

    `lenient` accepts what seeding through the control API produces (floats from JSON, nulls
    for booleans): seeds describe data the service already holds, not requests to check.
    """
    where = f"'{field.name}'"
    if value is None:
        if field.data_type == "boolean" and not lenient:
            raise FieldProblemError(f"The field {where} is a boolean and cannot be null.")
        return None
    kind = field.data_type
    if kind in ("integer", "long"):
        if isinstance(value, bool):
            raise FieldProblemError(f"The value {value!r} is not a whole number for {where}.")
        if isinstance(value, int):
            return value
        if isinstance(value, Decimal | float) and math.isfinite(value) and value == int(value):
            return int(value)
        if isinstance(value, str) and value.strip().lstrip("-").isdigit():
            return int(value)
        raise FieldProblemError(f"The value {value!r} is not a whole number for {where}.")
    if kind == "decimal":
        if isinstance(value, bool):
            raise FieldProblemError(f"The value {value!r} is not a number for {where}.")
        if isinstance(value, float):
            if not lenient:
                raise FieldProblemError(f"The value {value!r} is not an exact number for {where}.")
            return Decimal(repr(value))
        number: Decimal | None = None
        if isinstance(value, int | Decimal):
            number = Decimal(value)
        elif isinstance(value, str):
            try:
                number = Decimal(value.strip())
            except InvalidOperation:
                number = None
        if number is None or not number.is_finite():
            raise FieldProblemError(f"The value {value!r} is not a number for {where}.")
        return number
    if kind == "boolean":
        if isinstance(value, bool):
            return value
        raise FieldProblemError(f"The value {value!r} is not true or false for {where}.")
    if kind == "datetime":
        if isinstance(value, str):
            try:
                return normalise_moment(value, date_only=field.date_only)
            except ValueError:
                pass
        raise FieldProblemError(f"The value {value!r} is not a valid date and time for {where}.")
    if isinstance(value, bool) or not isinstance(value, str | int | Decimal | float):
        raise FieldProblemError(f"The value {value!r} is not text for {where}.")
    text = str(value)
    if field.length and len(text) > field.length:
        raise FieldProblemError(
            f"The value for {where} is {len(text)} characters long; the limit is {field.length}."
        )
    return text


def normalise_seed(entity: Entity, raw: Mapping[str, Any]) -> dict[str, Any]:
    """A seeded record with every field present and values stored the service's way."""
    record: dict[str, Any] = blank_record(entity)
    for key, value in raw.items():
        if key.lower() == "userdefinedfields":
            record["userDefinedFields"] = [
                {"name": str(udf["name"]), "value": udf.get("value")} for udf in value or ()
            ]
            continue
        field = entity.field(key)
        if field is None:
            raise ValueError(f"{entity.name} has no field {key!r}")
        try:
            record[field.name] = coerce(field, value, lenient=True)
        except FieldProblemError as problem:
            raise ValueError(f"{entity.name}: {problem}") from None
    return record


class Writer:
    """One write request against one entity, with the acting resource for the audit stamps."""

    def __init__(
        self,
        sim: Simulator,
        entity: Entity,
        *,
        actor_id: int | None,
        impersonator_id: int | None = None,
    ) -> None:
        self.sim = sim
        self.entity = entity
        self.system = state(sim)
        self.rows = self.system.collection(entity.name)
        self.actor_id = actor_id
        self.impersonator_id = impersonator_id
        self.problems: list[str] = []

    def create(self, body: Any, *, parent_id: int | None = None) -> int:
        values = self._body(body)
        record: dict[str, Any] = blank_record(self.entity)
        for field in self.entity.fields:
            if field.data_type == "boolean" and not field.read_only:
                record[field.name] = False
        self._set_parent(values, parent_id)
        self._apply(record, values, existing=None)
        self._require(record)
        self._raise_problems()
        now = format_moment(self.sim.clock.now())
        record["id"] = allocate_id(self.system, self.entity.name)
        for name in ("createDate", "createDateTime"):
            if name in record:
                record[name] = now
        for name in ("createdByResourceID", "creatorResourceID"):
            if name in record:
                record[name] = self.actor_id
        if "impersonatorCreatorResourceID" in record:
            record["impersonatorCreatorResourceID"] = self.impersonator_id
        self._touch(record, now)
        self._derive(record)
        store(self.system, self.entity.name, record)
        self._after_write(record)
        return int(record["id"])

    def update(self, body: Any, *, replace: bool, parent_id: int | None = None) -> int:
        values = self._body(body)
        record_id = values.pop("id", None)
        if record_id is None:
            raise AutotaskError(500, f"An id is required to update a {self._singular()}.")
        try:
            record_id = coerce(self.entity.fields[0], record_id)
        except FieldProblemError as problem:
            raise AutotaskError(500, str(problem)) from None
        existing = self.rows.get(record_id)
        if existing is None or (
            parent_id is not None
            and self.entity.parent is not None
            and existing.get(self.entity.parent.parent_field) != parent_id
        ):
            raise AutotaskError(500, "No matching records found.")
        self._set_parent(values, parent_id)
        updated = dict(existing)
        if replace:
            for field in self.entity.fields:
                if not field.read_only and field.name not in values:
                    updated[field.name] = False if field.data_type == "boolean" else None
        self._apply(updated, values, existing=existing)
        self._require(updated)
        self._raise_problems()
        self._touch(updated, format_moment(self.sim.clock.now()))
        self._derive(updated)
        existing.clear()
        existing.update(updated)
        self._after_write(existing)
        return int(record_id)

    def delete(self, record_id: int, *, parent_id: int | None = None) -> int:
        existing = self.rows.get(record_id)
        if existing is None or (
            parent_id is not None
            and self.entity.parent is not None
            and existing.get(self.entity.parent.parent_field) != parent_id
        ):
            raise AutotaskError(500, "No matching records found.")
        del self.rows[record_id]
        return record_id

    # -- helpers ---------------------------------------------------------------------------

    def _singular(self) -> str:
        return self.entity.name[:-1] if self.entity.name.endswith("s") else self.entity.name

    def _body(self, body: Any) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise AutotaskError(500, f"The request body must be a {self._singular()} object.")
        values: dict[str, Any] = {}
        for key, value in body.items():
            if str(key).lower() == "userdefinedfields":
                values["userDefinedFields"] = value
                continue
            field = self.entity.field(str(key))
            if field is not None:
                values[field.name] = value
        return values

    def _set_parent(self, values: dict[str, Any], parent_id: int | None) -> None:
        route = self.entity.parent
        if route is None or parent_id is None:
            return
        sent = values.get(route.parent_field)
        if sent is not None and sent != parent_id:
            self.problems.append(
                f"The {route.parent_field} in the body ({sent}) does not match the parent id "
                f"in the URL ({parent_id})."
            )
        values[route.parent_field] = parent_id
        if parent_id not in self.system.collection(route.parent_entity):
            raise AutotaskError(500, "No matching records found.")

    def _apply(
        self,
        record: dict[str, Any],
        values: Mapping[str, Any],
        *,
        existing: Mapping[str, Any] | None,
    ) -> None:
        for name, raw in values.items():
            if name == "userDefinedFields":
                self._apply_udfs(record, raw)
                continue
            field = self.entity.field(name)
            assert field is not None
            try:
                value = coerce(field, raw)
            except FieldProblemError as problem:
                self.problems.append(str(problem))
                continue
            if field.read_only:
                # Creating: the service fills these itself. Updating: same value is harmless.
                if existing is not None and value != existing.get(field.name):
                    self.problems.append(
                        f"The field '{field.name}' of {self.entity.name} is read-only and "
                        "cannot be changed."
                    )
                continue
            problem_text = self._check_value(field, value)
            if problem_text:
                self.problems.append(problem_text)
                continue
            record[field.name] = value

    def _apply_udfs(self, record: dict[str, Any], raw: Any) -> None:
        if not isinstance(raw, list):
            self.problems.append("userDefinedFields must be a list of {name, value} objects.")
            return
        definitions = udf_names(self.sim, self.entity.name)
        merged = [dict(udf) for udf in record.get("userDefinedFields") or ()]
        by_name = {str(udf["name"]).lower(): udf for udf in merged}
        for item in raw:
            if not isinstance(item, dict) or not isinstance(item.get("name"), str):
                self.problems.append("Each user-defined field needs a name.")
                continue
            folded = item["name"].lower()
            canonical = next((name for name in definitions if name.lower() == folded), None)
            if canonical is None:
                self.problems.append(
                    f"Unable to find user-defined field '{item['name']}' in {self.entity.name}."
                )
                continue
            value = item.get("value")
            text = None if value is None else str(value)
            if folded in by_name:
                by_name[folded]["value"] = text
            else:
                udf = {"name": canonical, "value": text}
                merged.append(udf)
                by_name[folded] = udf
        record["userDefinedFields"] = merged

    def _check_value(self, field: Field, value: Any) -> str | None:
        if value is None:
            return None
        if field.picklist:
            allowed = {number for number, _label in field.picklist}
            if value not in allowed:
                return f"The value {value} is not a valid choice for '{field.name}'."
        target = field.picklist_entity or field.reference
        if target in ENTITIES and value not in self.system.collection(target):
            return (
                f"The value {value} for '{field.name}' does not match an existing "
                f"{target[:-1] if target.endswith('s') else target} record."
            )
        return None

    def _require(self, record: Mapping[str, Any]) -> None:
        for field in self.entity.fields:
            if field.required and record.get(field.name) in (None, ""):
                self.problems.append(f"The field '{field.name}' is required.")

    def _raise_problems(self) -> None:
        if self.problems:
            raise AutotaskError(500, *self.problems)

    def _touch(self, record: dict[str, Any], now: str) -> None:
        for name in ("lastActivityDate", "lastModifiedDate", "lastTrackedModifiedDateTime"):
            if name in record:
                record[name] = now

    def _derive(self, record: dict[str, Any]) -> None:
        """Fields the service computes from others (single-currency tenant)."""
        name = self.entity.name
        if name == "ExpenseItems":
            amount = record.get("expenseCurrencyExpenseAmount") or Decimal(0)
            reimbursed = (
                amount if record.get("isReimbursable") and not record.get("isRejected") else 0
            )
            record["internalCurrencyExpenseAmount"] = Decimal(amount)
            record["internalCurrencyReimbursementAmount"] = Decimal(reimbursed)
            record["reimbursementCurrencyReimbursementAmount"] = Decimal(reimbursed)
        elif name == "PurchaseOrderItems":
            record["internalCurrencyUnitCost"] = record.get("unitCost")
        elif name == "PurchaseOrders":
            record["internalCurrencyFreight"] = record.get("freight")

    def _after_write(self, record: Mapping[str, Any]) -> None:
        if self.entity.name == "ExpenseItems" and record.get("expenseReportID") is not None:
            recompute_expense_report(self.system, int(record["expenseReportID"]))


def recompute_expense_report(system: SystemState, report_id: int) -> None:
    report = system.collection("ExpenseReports").get(report_id)
    if report is None:
        return
    items = [
        item
        for item in system.collection("ExpenseItems").values()
        if item.get("expenseReportID") == report_id
    ]
    zero = Decimal(0)
    total = sum((item.get("internalCurrencyExpenseAmount") or zero for item in items), zero)
    due = sum((item.get("internalCurrencyReimbursementAmount") or zero for item in items), zero)
    advance = report.get("internalCurrencyCashAdvanceAmount") or Decimal(0)
    report["internalCurrencyExpenseTotal"] = total
    report["amountDue"] = due - advance
    report["reimbursementCurrencyAmountDue"] = due - advance


def udf_names(sim: Simulator, entity: str) -> list[str]:
    """The user-defined fields defined for `entity` (see `udf_definitions`)."""
    return [definition["name"] for definition in udf_definitions(sim, entity)]


def udf_definitions(sim: Simulator, entity: str) -> list[dict[str, Any]]:
    """UDF definitions live in `extra["udf_definitions"][entity]`, seeded or generated."""
    definitions: dict[str, list[dict[str, Any]]] = state(sim).extra.get("udf_definitions", {})
    return definitions.get(entity, [])
