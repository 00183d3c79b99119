"""XeroLedger reads the organisation's contacts (and items) once, not once per customer.

A sync run meets the same few customers on invoice after invoice; a lookup per customer costs
a call against Xero's 60 a minute. The adapter reads every contact once, a page of 1,000 at a
time, matches by PSA id (`ContactNumber`) and then by name as before, and keeps the index up to
date as it creates or links contacts. Counts come from the simulator's request log.
"""

from decimal import Decimal
from typing import Any

import pytest

from ledgerbridge.connectors.base import (
    ConnectorError,
    Customer,
    NameClashRule,
    Product,
    ProductIdPolicy,
)
from ledgerbridge.connectors.xero.adapter import XeroLedger
from ledgerbridge_sim.state import Simulator
from ledgerbridge_sim.xero import app as xero

CONTACTS = "/xero/api.xro/2.0/Contacts"
ITEMS = "/xero/api.xro/2.0/Items"


def calls(sim: Simulator, method: str, path: str) -> int:
    return sim.request_counts("xero").get(f"{method} {path}", 0)


def contacts_in_xero(sim: Simulator) -> list[dict[str, Any]]:
    return list(sim.system("xero").collection("Contacts").values())


def test_sixty_customers_cost_one_read_and_a_write_per_new_contact(
    sim_ledger: XeroLedger, sim: Simulator
) -> None:
    xero.seed(
        sim,
        {
            "Contacts": [
                *({"Name": f"Linked {n}", "ContactNumber": f"L{n}"} for n in range(20)),
                *({"Name": f"Unlinked {n}"} for n in range(20)),
            ]
        },
    )
    customers = [
        *(Customer(psa_id=f"L{n}", name=f"Renamed in the PSA {n}") for n in range(20)),
        *(Customer(psa_id=f"U{n}", name=f"Unlinked {n}") for n in range(20)),
        *(Customer(psa_id=f"N{n}", name=f"New client {n}") for n in range(20)),
    ]

    # Each customer on two invoices, as a run meets them.
    first = [
        sim_ledger.ensure_customer(c, on_name_clash=NameClashRule.LINK_EXISTING) for c in customers
    ]
    again = [
        sim_ledger.ensure_customer(c, on_name_clash=NameClashRule.LINK_EXISTING) for c in customers
    ]

    assert [r.outcome for r in first] == ["found"] * 20 + ["linked"] * 20 + ["created"] * 20
    assert [r.outcome for r in again] == ["found"] * 60
    assert [r.ledger_id for r in again] == [r.ledger_id for r in first]
    assert calls(sim, "GET", CONTACTS) == 1
    assert calls(sim, "PUT", CONTACTS) == 20
    posts = sum(n for call, n in sim.request_counts("xero").items() if call.startswith("POST "))
    assert posts == 20  # one link each, written once
    numbers = [c.get("ContactNumber") for c in contacts_in_xero(sim) if c.get("ContactNumber")]
    assert len(numbers) == len(set(numbers)) == 60


def test_contacts_are_read_a_page_of_a_thousand_at_a_time(
    sim_ledger: XeroLedger, sim: Simulator
) -> None:
    xero.seed(
        sim,
        {"Contacts": [{"Name": f"Client {n}", "ContactNumber": f"P{n}"} for n in range(1500)]},
    )

    found = sim_ledger.ensure_customer(Customer(psa_id="P1499", name="Client 1499"))
    sim_ledger.ensure_customer(Customer(psa_id="P3", name="Client 3"))

    assert found.outcome == "found" and found.name == "Client 1499"
    pages = [r for r in sim.requests if r.system == "xero" and r.path == CONTACTS]
    assert len(pages) == 2


def test_an_archived_contact_still_answers_for_its_psa_id(
    sim_ledger: XeroLedger, sim: Simulator
) -> None:
    xero.seed(
        sim,
        {
            "Contacts": [
                {"Name": "Acme Dental (old)", "ContactNumber": "250", "ContactStatus": "ARCHIVED"},
            ]
        },
    )

    archived = sim_ledger.ensure_customer(Customer(psa_id="250", name="Acme Dental"))

    assert archived.outcome == "found" and archived.name == "Acme Dental (old)"
    assert calls(sim, "PUT", CONTACTS) == 0


def test_a_contact_made_in_xero_after_the_index_was_read_is_settled_not_duplicated(
    sim_ledger: XeroLedger, sim: Simulator
) -> None:
    sim_ledger.ensure_customer(Customer(psa_id="1", name="First client"))  # reads the index
    xero.seed(sim, {"Contacts": [{"Name": "Bright Smiles"}]})  # a bookkeeper adds it in Xero

    linked = sim_ledger.ensure_customer(
        Customer(psa_id="251", name="Bright Smiles"), on_name_clash=NameClashRule.LINK_EXISTING
    )

    assert linked.outcome == "linked"
    named = [c for c in contacts_in_xero(sim) if c["Name"] == "Bright Smiles"]
    assert [c.get("ContactNumber") for c in named] == ["251"]


def test_a_namesake_made_meanwhile_still_fails_under_the_fail_rule(
    sim_ledger: XeroLedger, sim: Simulator
) -> None:
    sim_ledger.ensure_customer(Customer(psa_id="1", name="First client"))
    xero.seed(sim, {"Contacts": [{"Name": "Bright Smiles", "ContactNumber": "999"}]})

    with pytest.raises(ConnectorError) as raised:
        sim_ledger.ensure_customer(Customer(psa_id="251", name="Bright Smiles"))

    assert "linked to another PSA customer (id 999)" in raised.value.message
    assert len([c for c in contacts_in_xero(sim) if c["Name"] == "Bright Smiles"]) == 1


def test_items_are_read_once_and_new_ones_join_the_index(
    sim_ledger: XeroLedger, sim: Simulator
) -> None:
    xero.seed(
        sim,
        {"Items": [{"Code": f"SKU-{n}", "Name": f"Product {n}"} for n in range(3)]},
    )
    products = [
        Product(psa_id=str(n), identifier=f"SKU-{n}", unit_price=Decimal("9.50")) for n in range(5)
    ]

    first = [sim_ledger.ensure_item(p, policy=ProductIdPolicy.FAIL) for p in products]
    again = [sim_ledger.ensure_item(p) for p in products]

    assert [i.code for i in first] == [f"SKU-{n}" for n in range(5)]
    assert [i.ledger_id for i in again] == [i.ledger_id for i in first]
    assert calls(sim, "GET", ITEMS) == 1
    assert calls(sim, "PUT", ITEMS) == 2
