"""A few Xero resources in memory, enough to drive the adapter's decisions in unit tests.

Deliberately small: exact-match `where` conditions joined by AND, per-element PUT results as the
documentation shows them, and switches for the failures under test. The simulator tests
(test_sim.py) cover the full behaviour.
"""

import json
import re
import uuid
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import httpx

from .conftest import fixture, ok

_WHERE = re.compile(r'^(?P<field>\w+)=="(?P<value>(?:[^"\\]|\\.)*)"$')
_NUMBER_FIELDS = {"Invoices": "InvoiceNumber", "CreditNotes": "CreditNoteNumber"}
_TYPES = {"Invoices": "ACCREC", "CreditNotes": "ACCRECCREDIT"}
_ID_FIELDS = {"Invoices": "InvoiceID", "CreditNotes": "CreditNoteID"}


class FakeXero:
    def __init__(self) -> None:
        self.contacts: list[dict[str, Any]] = []
        self.items: list[dict[str, Any]] = []
        self.documents: dict[str, list[dict[str, Any]]] = {"Invoices": [], "CreditNotes": []}
        self.requests: list[httpx.Request] = []
        # Switches for the failure under test.
        self.refuse: Callable[[dict[str, Any]], list[str]] = lambda element: []
        self.drop_puts = 0  # save, then break the connection, on this many document PUTs
        self.forbid: set[str] = set()  # resources answered 403

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        resource, _, rest = request.url.path.split("/api.xro/2.0/", 1)[1].partition("/")
        if resource in self.forbid:
            return httpx.Response(
                403, json={"Title": "Forbidden", "Detail": "AuthorizationUnsuccessful"}
            )
        if request.method == "GET":
            return self._get(resource, request)
        body = json.loads(request.content, parse_float=Decimal)
        if resource == "Contacts" and request.method == "POST":
            return self._link(rest, body)
        if resource in ("Contacts", "Items"):
            return self._create(resource, body[resource][0])
        return self._put_documents(resource, body[resource], request)

    # -- reads -------------------------------------------------------------------------------

    def _get(self, resource: str, request: httpx.Request) -> httpx.Response:
        if resource in ("Organisation", "Payments"):
            name = "organisation.json" if resource == "Organisation" else "payments.json"
            return ok(fixture(name))
        rows = {"Contacts": self.contacts, "Items": self.items, **self.documents}[resource]
        params = request.url.params
        if "InvoiceNumbers" in params:
            wanted = params["InvoiceNumbers"].split(",")
            rows = [row for row in rows if row["InvoiceNumber"] in wanted]
        for condition in params["where"].split(" AND ") if "where" in params else []:
            match = _WHERE.match(condition)
            assert match, f"unexpected where: {params['where']}"
            field, value = match["field"], re.sub(r"\\(.)", r"\1", match["value"])
            rows = [row for row in rows if row.get(field, _TYPES.get(resource)) == value]
        if resource == "Contacts" and params.get("includeArchived") != "true":
            rows = [row for row in rows if row.get("ContactStatus", "ACTIVE") == "ACTIVE"]
        return ok({"Status": "OK", resource: rows})

    # -- writes ------------------------------------------------------------------------------

    def _create(self, resource: str, element: dict[str, Any]) -> httpx.Response:
        record = {**element, "ContactStatus": "ACTIVE"} if resource == "Contacts" else dict(element)
        record["ContactID" if resource == "Contacts" else "ItemID"] = str(uuid.uuid4())
        (self.contacts if resource == "Contacts" else self.items).append(record)
        return ok({"Status": "OK", resource: [record]})

    def _link(self, contact_id: str, body: dict[str, Any]) -> httpx.Response:
        contact = next(c for c in self.contacts if c["ContactID"] == contact_id)
        contact["ContactNumber"] = body["Contacts"][0]["ContactNumber"]
        return ok({"Status": "OK", "Contacts": [contact]})

    def _put_documents(
        self, resource: str, elements: list[dict[str, Any]], request: httpx.Request
    ) -> httpx.Response:
        number_field = _NUMBER_FIELDS[resource]
        answers = []
        for element in elements:
            taken = {row[number_field] for row in self.documents[resource]}
            messages = list(self.refuse(element))
            if element.get(number_field) in taken:
                messages.append("Invoice # must be unique.")
            if messages:
                answers.append(
                    {
                        **element,
                        "HasErrors": True,
                        "StatusAttributeString": "ERROR",
                        "ValidationErrors": [{"Message": m} for m in messages],
                    }
                )
                continue
            net = sum(
                (Decimal(str(line["LineAmount"])) for line in element["LineItems"]), Decimal(0)
            )
            tax = sum(
                (Decimal(str(line.get("TaxAmount", 0))) for line in element["LineItems"]),
                Decimal(0),
            )
            record = {
                **element,
                _ID_FIELDS[resource]: str(uuid.uuid4()),
                "Total": net + tax,
                "AmountDue": net + tax,
                "StatusAttributeString": "OK",
                "UpdatedDateUTC": "/Date(1793581919000+0000)/",
            }
            self.documents[resource].append(record)
            answers.append(record)
        if self.drop_puts:
            self.drop_puts -= 1
            raise httpx.RemoteProtocolError("peer closed connection", request=request)
        return ok({"Status": "OK", resource: answers})
