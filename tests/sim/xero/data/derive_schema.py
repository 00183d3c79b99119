"""Derive `xero_schema.json` (field names, types, enums) from Xero's OpenAPI document.

Run once when the spec changes, with any Python that has PyYAML:

    python3 tests/sim/xero/data/derive_schema.py /work/shared/specs/xero_accounting.yaml

For every schema reachable from the resources the simulator serves it keeps each property's
type, format, enum and whether it is a `/Date(…)/` value, plus `example_keys`: the extra keys
the spec's own response examples show for objects of that schema (`DateString`, the envelope's
`Id`/`Status`/`ProviderName`/`DateTimeUTC`). The conformance test reads only the JSON.
"""

import json
import sys
from pathlib import Path
from typing import Any

import yaml

ROOTS = (
    "Invoices",
    "CreditNotes",
    "Contacts",
    "Items",
    "Accounts",
    "TaxRates",
    "Payments",
    "BatchPayments",
    "Organisations",
    "TrackingCategories",
    "TrackingOptions",
    "ManualJournals",
    "PurchaseOrders",
    "Overpayments",
    "Prepayments",
    "Allocations",
    "Error",
)


def _ref_name(node: dict[str, Any]) -> str | None:
    ref = node.get("$ref")
    return ref.rsplit("/", 1)[-1] if isinstance(ref, str) else None


def _property(node: dict[str, Any]) -> dict[str, Any]:
    ref = _ref_name(node)
    if ref is not None:
        return {"ref": ref}
    found: dict[str, Any] = {"type": node.get("type", "object")}
    for key in ("format", "enum"):
        if key in node:
            found[key] = node[key]
    if node.get("x-is-msdate"):
        found["msdate"] = True
    if "items" in node:
        found["items"] = _property(node["items"])
    return found


def derive(spec: dict[str, Any]) -> dict[str, Any]:
    schemas = spec["components"]["schemas"]
    wanted: dict[str, Any] = {}
    pending = list(ROOTS)
    while pending:
        name = pending.pop()
        if name in wanted or name not in schemas:
            continue
        schema = schemas[name]
        entry: dict[str, Any] = {"type": schema.get("type", "object"), "properties": {}}
        if "enum" in schema:
            entry["enum"] = schema["enum"]
        for prop, node in (schema.get("properties") or {}).items():
            entry["properties"][prop] = _property(node)
            for nested in (node, node.get("items") or {}):
                ref = _ref_name(nested)
                if ref:
                    pending.append(ref)
        entry["example_keys"] = []
        wanted[name] = entry

    def walk(example: Any, schema_name: str | None) -> None:
        if schema_name not in wanted:
            return
        entry = wanted[schema_name]
        if isinstance(example, list):
            for item in example:
                walk(item, schema_name)
            return
        if not isinstance(example, dict):
            return
        for key, value in example.items():
            prop = entry["properties"].get(key)
            if prop is None:
                if key not in entry["example_keys"]:
                    entry["example_keys"].append(key)
                continue
            target = prop.get("ref") or (prop.get("items") or {}).get("ref")
            if target:
                walk(value, target)

    for path in spec["paths"].values():
        for operation in path.values():
            if not isinstance(operation, dict):
                continue
            for response in (operation.get("responses") or {}).values():
                content = (response.get("content") or {}).get("application/json") or {}
                walk(content.get("example"), _ref_name(content.get("schema") or {}))
    for entry in wanted.values():
        entry["example_keys"].sort()
    return dict(sorted(wanted.items()))


def main() -> None:
    source = Path(sys.argv[1])
    spec = yaml.safe_load(source.read_text())
    derived = {
        "source": f"{source.name} (Xero OpenAPI {spec['info']['version']})",
        "schemas": derive(spec),
    }
    target = Path(__file__).with_name("xero_schema.json")
    target.write_text(json.dumps(derived, indent=1, sort_keys=False) + "\n")
    print(f"wrote {target} ({len(derived['schemas'])} schemas)")


if __name__ == "__main__":
    main()
