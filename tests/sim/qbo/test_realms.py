"""Realms stay apart; each starts with data fitting its country; seed, generate and state."""

from collections import defaultdict
from collections.abc import Callable
from decimal import Decimal

import httpx

from ledgerbridge_sim.qbo import app as qbo
from ledgerbridge_sim.state import Simulator
from tests.sim.qbo.conftest import AU, CA, UK, US, QboApi, error_of, read, sales_line


def test_one_realm_cannot_see_another_realms_records(us: QboApi, uk: QboApi) -> None:
    customer = us.create("Customer", {"DisplayName": "Oscar Optics"})
    assert error_of(uk.get(f"customer/{customer['Id']}"))["code"] == "610"
    assert uk.rows("select * from Customer where DisplayName = 'Oscar Optics'") == []
    # Names only clash within a company.
    assert uk.create("Customer", {"DisplayName": "Oscar Optics"})["Id"] != customer["Id"]
    stale_elsewhere = uk.post(
        "customer", {"Id": customer["Id"], "SyncToken": "0", "sparse": True, "Notes": "x"}
    )
    assert error_of(stale_elsewhere)["code"] == "610"
    assert "Notes" not in us.fetch("Customer", customer["Id"])


def test_each_country_starts_with_its_tax_set_up(api_for: Callable[[str], QboApi]) -> None:
    expected = {US: "California", CA: "HST ON", UK: "20.0% S", AU: "GST"}
    for realm, code_name in expected.items():
        api = api_for(realm)
        codes = [code["Name"] for code in api.rows("select * from TaxCode")]
        assert code_name in codes
        preferences = read(api.get("preferences"))["Preferences"]
        assert preferences["TaxPrefs"]["PartnerTaxEnabled"] is (realm == US)
        category = api.one("Item", "Name = 'Per Seat'")
        assert category["FullyQualifiedName"] == "Managed Services:Per Seat"
        assert category["ParentRef"]["name"] == "Managed Services" and category["Level"] == 1
        assert api.rows("select * from Class") and api.rows("select * from Department")


def test_state_endpoint_shows_records_with_their_realm(
    us: QboApi, uk: QboApi, sim_http: httpx.Client
) -> None:
    us.create("Customer", {"DisplayName": "Papa Pharmacy"})
    uk.create("Customer", {"DisplayName": "Papa Pharmacy"})
    state = read(sim_http.get("/_sim/state/qbo/Customer"))
    papas = [r["realmId"] for r in state["records"] if r["DisplayName"] == "Papa Pharmacy"]
    assert sorted(papas) == [US, UK]


def test_seed_uses_qbo_json_and_the_same_rules(
    sim: Simulator, sim_http: httpx.Client, uk: QboApi
) -> None:
    response = sim_http.post(
        "/_sim/seed",
        json={
            "qbo": {
                "realm": UK,
                "Customer": [{"Id": "500", "DisplayName": "Quebec Quarries"}],
                "Invoice": [
                    {
                        "Id": "900",
                        "CustomerRef": {"value": "500"},
                        "DocNumber": "SEED-1",
                        "GlobalTaxCalculation": "NotApplicable",
                        "Line": [{"DetailType": "SalesItemLineDetail", "Amount": 214.07}],
                    }
                ],
            }
        },
    )
    assert response.status_code == 200, response.text
    assert response.json()["created"]["qbo"] == {"realm": UK, "Customer": 1, "Invoice": 1}
    invoice = uk.fetch("Invoice", "900")
    assert invoice["TotalAmt"] == Decimal("214.07") and invoice["DocNumber"] == "SEED-1"
    assert uk.fetch("Customer", "500")["Balance"] == Decimal("214.07")
    # Ids allocated afterwards step around the seeded ones.
    assert uk.create("Customer", {"DisplayName": "Romeo Roofing"})["Id"] != "500"


def test_seed_refuses_what_qbo_would(sim: Simulator) -> None:
    try:
        qbo.seed(sim, {"Customer": [{"DisplayName": "Acme Dental"}]})
    except ValueError as error:
        assert "6240" in str(error)
    else:
        raise AssertionError("a duplicate name was seeded")


def test_generate_makes_a_consistent_company(sim: Simulator, us: QboApi) -> None:
    made = qbo.generate(sim, invoices=40, seed=7)
    assert made["Invoice"] == 40 and made["Customer"] == 10 and made["Payment"] > 0
    assert made == qbo.generate(Simulator(), invoices=40, seed=7)  # deterministic
    invoices = us.rows("select * from Invoice maxresults 1000")
    payments = us.rows("select * from Payment maxresults 1000")
    credits = us.rows("select * from CreditMemo maxresults 1000")
    assert len(invoices) == 40
    owed: dict[str, Decimal] = defaultdict(Decimal)
    for invoice in invoices:
        owed[invoice["CustomerRef"]["value"]] += invoice["Balance"]
        assert invoice["TotalAmt"] >= invoice["Balance"] >= 0
    for credit in credits:
        owed[credit["CustomerRef"]["value"]] -= credit["RemainingCredit"]
    for payment in payments:
        owed[payment["CustomerRef"]["value"]] -= payment["UnappliedAmt"]
    for customer_id, balance in owed.items():
        assert us.fetch("Customer", customer_id)["Balance"] == balance


def test_an_unlisted_realm_is_forbidden(us: QboApi, sim: Simulator) -> None:
    other = QboApi(us.http, sim, "1234567890")
    assert other.post("invoice", {"Line": [sales_line("1", 1, "1")]}).status_code == 403
