"""Sales-form arithmetic (Invoice, CreditMemo) and applying payments.

Lines: `SalesItemLineDetail` lines price as `Qty * UnitPrice = Amount` (a supplied Amount must
agree to the cent; with only Amount and Qty the UnitPrice is derived; a missing UnitPrice comes
from the item). One `DiscountLineDetail` line may take a fixed Amount or `PercentBased` with
`DiscountPercent` of the subtotal. The answer carries a `SubTotalLineDetail` line after the item
lines, as QBO's does; subtotal lines sent in are ignored.

Tax (`TxnTaxDetail`): outside the US every item line needs a `TaxCodeRef` to a TaxCode; its
`SalesTaxRateList` rates apply to the line, and one `TaxLine` per rate carries the rounded tax
on the summed base (`GlobalTaxCalculation` TaxExcluded, TaxInclusive where the sent Amount
includes tax, or NotApplicable); a `TaxLine` the client sends for a rate states that rate's
amount instead. In the US realm automated sales tax takes the customer's state
(see company.AST_RATES) over lines coded `TAX`; a `TxnTaxDetail.TotalTax` sent by the client is
honoured instead. With a discount, tax is computed on the discounted base unless the form
sets `ApplyTaxAfterDiscount: false`.

Totals: `TotalAmt` = subtotal - discount + tax (TaxExcluded). Invoice `Balance` = TotalAmt less
what payments have applied; CreditMemo `RemainingCredit` (and `Balance`) = TotalAmt less what
payments have used. A payment's `UnappliedAmt` = TotalAmt + credit memos linked - invoices paid.
"""

from collections import defaultdict
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from ledgerbridge_sim.qbo import company, faults
from ledgerbridge_sim.qbo.store import Realm, parse_id

CENT = Decimal("0.01")
HUNDRED = Decimal("100")


def round_money(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def decimal_field(value: Any, element: str) -> Decimal:
    if isinstance(value, bool):
        raise faults.invalid_property(f"{element} must be a number", element)
    try:
        return Decimal(str(value)) if not isinstance(value, Decimal) else value
    except InvalidOperation:
        raise faults.invalid_property(f"{element} must be a number", element) from None


def parse_date(value: Any, element: str) -> date:
    try:
        return date.fromisoformat(str(value)[:10])
    except ValueError:
        raise faults.invalid_property(f"{element} is not a valid date: {value}", element) from None


def resolve(realm: Realm, entity: str, reference: Any, element: str) -> dict[str, Any]:
    """The active record a `…Ref` points at: 2500 for a malformed id, 610 for missing/inactive."""
    if not isinstance(reference, dict) or reference.get("value") in (None, ""):
        raise faults.required_missing(element)
    value = reference["value"]
    if parse_id(value) is None:
        raise faults.invalid_reference(entity, value, element)
    record = realm.visible(entity, value)
    if record is None or record.get("Active") is False:
        raise faults.object_not_found(element)
    return record


def named_ref(record: dict[str, Any], name_field: str = "Name") -> dict[str, Any]:
    return {"value": record["Id"], "name": record.get(name_field, "")}


# -- invoices and credit memos ---------------------------------------------------------------


def price_sales_form(
    realm: Realm, entity: str, form: dict[str, Any], previous: dict[str, Any] | None
) -> None:
    """Validate and complete an Invoice or CreditMemo in place: refs, lines, tax, totals."""
    customer = resolve(realm, "Customer", form.get("CustomerRef"), "CustomerRef")
    form["CustomerRef"] = named_ref(customer, "DisplayName")
    txn_date = parse_date(form["TxnDate"], "TxnDate") if form.get("TxnDate") else realm.today()
    form["TxnDate"] = txn_date.isoformat()
    for field, target in (("ClassRef", "Class"), ("DepartmentRef", "Department")):
        if form.get(field):
            form[field] = named_ref(resolve(realm, target, form[field], field))
    currency = realm.organisation.currency
    form.setdefault(
        "CurrencyRef", {"value": currency, "name": company.CURRENCY_NAMES.get(currency, "")}
    )
    if entity == "Invoice":
        _due_date(realm, form, customer, txn_date)
    lines = form.get("Line")
    if not isinstance(lines, list) or not lines:
        raise faults.required_missing("Line")
    priced, subtotal, discount, taxable = _price_lines(realm, lines, customer)
    if discount > subtotal:
        raise faults.business_validation("The discount cannot be more than the subtotal.", "Line")
    # Tax on the discounted base unless the form says the discount comes after tax.
    after_discount = form.setdefault("ApplyTaxAfterDiscount", True) is not False
    share = (subtotal - discount) / subtotal if subtotal and after_discount else Decimal(1)
    form["Line"] = priced
    if realm.is_us_automated_tax():
        tax_detail = _automated_sales_tax(realm, form, customer, taxable, share)
    else:
        tax_detail = _per_line_tax(realm, form, taxable, share)
    form["TxnTaxDetail"] = tax_detail
    net = sum(
        (line["Amount"] for line in priced if line["DetailType"] == "SalesItemLineDetail"),
        Decimal(0),
    )
    for line in priced:  # tax-inclusive lines now hold their net amounts
        if line["DetailType"] == "SubTotalLineDetail":
            line["Amount"] = round_money(net)
    total = round_money(net - discount + tax_detail["TotalTax"])
    form["TotalAmt"] = total
    settled = Decimal(0)
    if previous is not None:
        if entity == "Invoice":
            settled = Decimal(previous.get("TotalAmt", 0)) - Decimal(previous.get("Balance", 0))
        else:
            settled = Decimal(previous.get("TotalAmt", 0)) - Decimal(
                previous.get("RemainingCredit", 0)
            )
        form["LinkedTxn"] = previous.get("LinkedTxn", [])
    else:
        form["LinkedTxn"] = []
    if total < settled:
        raise faults.business_validation(
            f"The transaction total ({total}) is less than the payments applied to it ({settled}).",
            "TotalAmt",
        )
    if entity == "Invoice":
        form["Balance"] = round_money(total - settled)
    else:
        form["RemainingCredit"] = round_money(total - settled)
        form["Balance"] = form["RemainingCredit"]


def _due_date(realm: Realm, form: dict[str, Any], customer: dict[str, Any], txn_date: date) -> None:
    term_ref = form.get("SalesTermRef") or customer.get("SalesTermRef")
    term_ref = term_ref or realm.preference("SalesFormsPrefs", "DefaultTerms")
    days = 0
    if term_ref:
        term = resolve(realm, "Term", term_ref, "SalesTermRef")
        form["SalesTermRef"] = named_ref(term)
        days = int(term.get("DueDays") or 0)
    if form.get("DueDate"):
        form["DueDate"] = parse_date(form["DueDate"], "DueDate").isoformat()
    else:
        form["DueDate"] = (txn_date + timedelta(days=days)).isoformat()


type Taxable = list[tuple[Decimal, dict[str, Any] | None]]


def _price_lines(
    realm: Realm, lines: list[Any], customer: dict[str, Any]
) -> tuple[list[dict[str, Any]], Decimal, Decimal, Taxable]:
    """Priced item lines (+ subtotal and discount lines), subtotal, discount, taxable parts.

    Each taxable part is (line amount, its TaxCode; None for a US `TAX` line or a missing code).
    """
    items: list[dict[str, Any]] = []
    taxable: Taxable = []
    discount_line: dict[str, Any] | None = None
    for raw in lines:
        if not isinstance(raw, dict):
            raise faults.invalid_property("Each Line must be an object", "Line")
        kind = raw.get("DetailType")
        if not kind:
            raise faults.required_missing("Line.DetailType")
        if kind == "SubTotalLineDetail":
            continue
        if kind == "DiscountLineDetail":
            if discount_line is not None:
                raise faults.business_validation("Only one discount line is allowed.", "Line")
            discount_line = raw
            continue
        if kind in ("DescriptionOnly", "DescriptionLineDetail"):
            line = {k: v for k, v in raw.items() if k in ("Description", "DescriptionLineDetail")}
            line.update(DetailType="DescriptionOnly", Amount=Decimal("0.00"))
            items.append(line)
            continue
        if kind != "SalesItemLineDetail":
            raise faults.invalid_property(
                f"Line DetailType {kind} is not supported here", "Line.DetailType"
            )
        items.append(_price_item_line(realm, raw, customer, taxable))
    for number, line in enumerate(items, start=1):
        line["Id"], line["LineNum"] = str(number), number
    subtotal = sum((line["Amount"] for line in items), Decimal(0))
    priced = [
        *items,
        {
            "Amount": round_money(subtotal),
            "DetailType": "SubTotalLineDetail",
            "SubTotalLineDetail": {},
        },
    ]
    discount = Decimal(0)
    if discount_line is not None:
        if not realm.preference("SalesFormsPrefs", "AllowDiscount", False):
            raise faults.business_validation("Discounts are turned off for this company.", "Line")
        detail = dict(discount_line.get("DiscountLineDetail") or {})
        if detail.get("PercentBased"):
            percent = decimal_field(detail.get("DiscountPercent", 0), "DiscountPercent")
            discount = round_money(subtotal * percent / HUNDRED)
        elif discount_line.get("Amount") is None:
            raise faults.required_missing("Line.Amount")
        else:
            discount = round_money(decimal_field(discount_line["Amount"], "Line.Amount"))
        account_ref = detail.get("DiscountAccountRef")
        account = (
            resolve(realm, "Account", account_ref, "DiscountAccountRef")
            if account_ref
            else realm.find_by_name("Account", "Discounts given")
        )
        if account is not None:
            detail["DiscountAccountRef"] = named_ref(account)
        detail.setdefault("PercentBased", False)
        priced.append(
            {
                "Id": str(len(items) + 1),
                "LineNum": len(items) + 1,
                "Amount": discount,
                "DetailType": "DiscountLineDetail",
                "DiscountLineDetail": detail,
            }
        )
    return priced, round_money(subtotal), discount, taxable


def _price_item_line(
    realm: Realm, raw: dict[str, Any], customer: dict[str, Any], taxable: Taxable
) -> dict[str, Any]:
    detail = dict(raw.get("SalesItemLineDetail") or {})
    if detail.get("ItemRef"):
        item = resolve(realm, "Item", detail["ItemRef"], "ItemRef")
    else:  # QBO puts a line without an item on its default "Services" item
        item = realm.find_by_name("Item", "Services") or resolve(realm, "Item", None, "ItemRef")
    if item.get("Type") == "Category":
        raise faults.business_validation(
            f"Category {item.get('Name')} cannot be sold; choose a product or service.", "ItemRef"
        )
    detail["ItemRef"] = named_ref(item)
    qty = decimal_field(detail["Qty"], "Qty") if detail.get("Qty") is not None else None
    price = (
        decimal_field(detail["UnitPrice"], "UnitPrice")
        if detail.get("UnitPrice") is not None
        else None
    )
    amount = decimal_field(raw["Amount"], "Line.Amount") if raw.get("Amount") is not None else None
    if qty is not None and price is None and amount is None and item.get("UnitPrice") is not None:
        price = Decimal(item["UnitPrice"])
    if qty is not None and price is not None:
        expected = round_money(qty * price)
        if amount is not None and round_money(amount) != expected:
            raise faults.business_validation(
                f"Amount is not equal to UnitPrice * Qty. Supplied value:{amount}", "Line.Amount"
            )
        amount = expected
    elif amount is None:
        raise faults.required_missing("Line.Amount")
    elif qty is not None and qty != 0 and price is None:
        price = amount / qty
    amount = round_money(amount)
    if qty is not None:
        detail["Qty"] = qty
    if price is not None:
        detail["UnitPrice"] = price
    if detail.get("ClassRef"):
        detail["ClassRef"] = named_ref(resolve(realm, "Class", detail["ClassRef"], "ClassRef"))
    account_ref = detail.get("ItemAccountRef") or item.get("IncomeAccountRef")
    if account_ref:
        detail["ItemAccountRef"] = named_ref(
            resolve(realm, "Account", account_ref, "ItemAccountRef")
        )
    if realm.is_us_automated_tax():
        code = (detail.get("TaxCodeRef") or {}).get("value")
        if code is None:
            code = "TAX" if item.get("Taxable") else "NON"
        if code not in ("TAX", "NON"):
            raise faults.invalid_reference("TaxCode", code, "TaxCodeRef")
        if customer.get("Taxable") is False:
            code = "NON"
        detail["TaxCodeRef"] = {"value": code}
        if code == "TAX":
            taxable.append((amount, None))
    else:
        code_ref = detail.get("TaxCodeRef")
        tax_code = None
        if code_ref:
            tax_code = resolve(realm, "TaxCode", code_ref, "TaxCodeRef")
            detail["TaxCodeRef"] = {"value": tax_code["Id"]}
        taxable.append((amount, tax_code))
    line = {k: v for k, v in raw.items() if k in ("Description", "LinkedTxn")}
    line.update(Amount=amount, DetailType="SalesItemLineDetail", SalesItemLineDetail=detail)
    return line


def _rates(realm: Realm, tax_code: dict[str, Any]) -> list[tuple[dict[str, Any], Decimal]]:
    details = (tax_code.get("SalesTaxRateList") or {}).get("TaxRateDetail") or []
    found = []
    for detail in details:
        rate = realm.get("TaxRate", (detail.get("TaxRateRef") or {}).get("value"))
        if rate is not None:
            found.append((rate, Decimal(rate.get("RateValue", 0))))
    return found


def _tax_line(
    rate: dict[str, Any], percent: Decimal, base: Decimal, tax: Decimal
) -> dict[str, Any]:
    return {
        "Amount": tax,
        "DetailType": "TaxLineDetail",
        "TaxLineDetail": {
            "TaxRateRef": {"value": rate["Id"]},
            "PercentBased": True,
            "TaxPercent": percent,
            "NetAmountTaxable": round_money(base),
        },
    }


def _per_line_tax(
    realm: Realm, form: dict[str, Any], taxable: Taxable, share: Decimal
) -> dict[str, Any]:
    mode = form.setdefault("GlobalTaxCalculation", "TaxExcluded")
    if mode not in ("TaxExcluded", "TaxInclusive", "NotApplicable"):
        raise faults.invalid_property(
            f"GlobalTaxCalculation {mode} is not valid", "GlobalTaxCalculation"
        )
    if mode == "NotApplicable":
        return {"TotalTax": Decimal("0.00"), "TaxLine": []}
    if any(code is None for _amount, code in taxable):
        tax_name = company.TAX_NAMES.get(realm.country, "tax")
        raise faults.business_validation(
            f"Make sure all your transactions have a {tax_name} rate before you save.", "TaxCodeRef"
        )
    bases: dict[str, Decimal] = defaultdict(Decimal)
    taxes: dict[str, Decimal] = defaultdict(Decimal)
    rate_records: dict[str, tuple[dict[str, Any], Decimal]] = {}
    lines = [line for line in form["Line"] if line.get("DetailType") == "SalesItemLineDetail"]
    for position, (amount, code) in enumerate(taxable):
        assert code is not None
        rates = _rates(realm, code)
        combined = sum((percent for _rate, percent in rates), Decimal(0))
        gross = amount * share
        net = gross * HUNDRED / (HUNDRED + combined) if mode == "TaxInclusive" else gross
        for rate, percent in rates:
            rate_records[rate["Id"]] = (rate, percent)
            bases[rate["Id"]] += net
            taxes[rate["Id"]] += net * percent / HUNDRED
        if mode == "TaxInclusive" and position < len(lines):
            # The sent Amount included tax: the line keeps the net and records the gross.
            line_net = round_money(amount * HUNDRED / (HUNDRED + combined))
            lines[position]["SalesItemLineDetail"]["TaxInclusiveAmt"] = amount
            lines[position]["Amount"] = line_net
    sent = _sent_tax_per_rate(form)
    tax_lines = [
        _tax_line(
            rate_records[rate_id][0],
            rate_records[rate_id][1],
            bases[rate_id],
            sent.get(rate_id, round_money(taxes[rate_id])),
        )
        for rate_id in sorted(rate_records, key=int)
    ]
    total = sum((line["Amount"] for line in tax_lines), Decimal(0))
    return {"TotalTax": round_money(total), "TaxLine": tax_lines}


def _sent_tax_per_rate(form: dict[str, Any]) -> dict[str, Decimal]:
    """Tax amounts the client stated per rate (`TxnTaxDetail.TaxLine`), which override the
    computed ones as the tax-amount override of QuickBooks' non-US editions does. [U: the
    docs describe TxnTaxDetail as computed; the UI lets a bookkeeper edit each rate's amount]"""
    sent: dict[str, Decimal] = {}
    for line in (form.get("TxnTaxDetail") or {}).get("TaxLine") or []:
        detail = line.get("TaxLineDetail") or {}
        rate_id = str((detail.get("TaxRateRef") or {}).get("value") or "")
        if rate_id and line.get("Amount") is not None:
            sent[rate_id] = round_money(decimal_field(line["Amount"], "TaxLine.Amount"))
    return sent


def _automated_sales_tax(
    realm: Realm, form: dict[str, Any], customer: dict[str, Any], taxable: Taxable, share: Decimal
) -> dict[str, Any]:
    """US AST: one rate from the ship-to / bill-to state, else the company's state."""
    company_info = realm.singleton("CompanyInfo")
    home_state = (company_info.get("CompanyAddr") or {}).get("CountrySubDivisionCode", "CA")
    state = None
    for address in (
        form.get("ShipAddr"),
        customer.get("ShipAddr"),
        form.get("BillAddr"),
        customer.get("BillAddr"),
    ):
        if isinstance(address, dict) and address.get("CountrySubDivisionCode") in company.AST_RATES:
            state = address["CountrySubDivisionCode"]
            break
    name, percent = company.AST_RATES.get(state or home_state, company.AST_RATES["CA"])
    tax_code = realm.find_by_name("TaxCode", name)
    rate = realm.find_by_name("TaxRate", name)
    base = round_money(sum((amount for amount, _code in taxable), Decimal(0)) * share)
    sent = (form.get("TxnTaxDetail") or {}).get("TotalTax")
    tax = (
        round_money(decimal_field(sent, "TotalTax"))
        if sent is not None
        else round_money(base * percent / HUNDRED)
    )
    detail: dict[str, Any] = {"TotalTax": tax, "TaxLine": []}
    if tax_code is not None:
        detail["TxnTaxCodeRef"] = {"value": tax_code["Id"]}
    if rate is not None and (base or tax):
        detail["TaxLine"] = [_tax_line(rate, percent, base, tax)]
    return detail


# -- payments -------------------------------------------------------------------------------


def plan_payment(
    realm: Realm, payment: dict[str, Any], previous: dict[str, Any] | None
) -> dict[tuple[str, str], Decimal]:
    """Validate a payment; returns what it applies per (entity, Id) and sets UnappliedAmt."""
    customer = resolve(realm, "Customer", payment.get("CustomerRef"), "CustomerRef")
    payment["CustomerRef"] = named_ref(customer, "DisplayName")
    if payment.get("TotalAmt") is None:
        raise faults.required_missing("TotalAmt")
    total = round_money(decimal_field(payment["TotalAmt"], "TotalAmt"))
    if total < 0:
        raise faults.business_validation("A payment amount cannot be negative.", "TotalAmt")
    payment["TotalAmt"] = total
    payment["TxnDate"] = (
        parse_date(payment["TxnDate"], "TxnDate") if payment.get("TxnDate") else realm.today()
    ).isoformat()
    deposit = payment.get("DepositToAccountRef") or realm.find_by_name(
        "Account", "Undeposited Funds"
    )
    if deposit is not None:
        payment["DepositToAccountRef"] = named_ref(
            resolve(
                realm,
                "Account",
                deposit if "value" in deposit else named_ref(deposit),
                "DepositToAccountRef",
            )
        )
    currency = realm.organisation.currency
    payment.setdefault(
        "CurrencyRef", {"value": currency, "name": company.CURRENCY_NAMES.get(currency, "")}
    )
    already = applied_by(previous)
    plan: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    lines = payment.get("Line") or []
    if not isinstance(lines, list):
        raise faults.invalid_property("Line must be a list", "Line")
    kept = []
    for raw in lines:
        if not isinstance(raw, dict):
            raise faults.invalid_property("Each Line must be an object", "Line")
        if raw.get("Amount") is None:
            raise faults.required_missing("Line.Amount")
        amount = round_money(decimal_field(raw["Amount"], "Line.Amount"))
        links = raw.get("LinkedTxn") or []
        if not links:
            raise faults.required_missing("Line.LinkedTxn")
        link = links[0]
        kind = link.get("TxnType")
        if kind not in ("Invoice", "CreditMemo"):
            raise faults.invalid_property(
                f"LinkedTxn TxnType {kind} is not supported", "LinkedTxn.TxnType"
            )
        if parse_id(link.get("TxnId")) is None:
            raise faults.invalid_reference(kind, link.get("TxnId"), "LinkedTxn.TxnId")
        target = realm.visible(kind, link["TxnId"])
        if target is None or realm.is_voided(kind, target):
            raise faults.object_not_found("LinkedTxn.TxnId")
        if target["CustomerRef"]["value"] != customer["Id"]:
            raise faults.business_validation(
                f"{kind} {target['Id']} belongs to another customer; a payment can only be "
                "applied to the paying customer's transactions.",
                "LinkedTxn",
            )
        open_field = "Balance" if kind == "Invoice" else "RemainingCredit"
        available = Decimal(target.get(open_field, 0)) + already.get(
            (kind, target["Id"]), Decimal(0)
        )
        plan[(kind, target["Id"])] += amount
        if amount < 0 or plan[(kind, target["Id"])] > available:
            raise faults.business_validation(
                f"The amount applied to {kind} {target['Id']} ({plan[(kind, target['Id'])]}) "
                f"is more than its open amount ({available}).",
                "Line.Amount",
            )
        kept.append({"Amount": amount, "LinkedTxn": [{"TxnId": target["Id"], "TxnType": kind}]})
    credits = sum((v for (kind, _id), v in plan.items() if kind == "CreditMemo"), Decimal(0))
    paid = sum((v for (kind, _id), v in plan.items() if kind == "Invoice"), Decimal(0))
    unapplied = total + credits - paid
    if unapplied < 0:
        raise faults.business_validation(
            f"The amounts applied ({paid}) are more than the payment and credits "
            f"({total + credits}).",
            "Line",
        )
    payment["Line"] = kept
    payment["UnappliedAmt"] = round_money(unapplied)
    payment.setdefault("ProcessPayment", False)
    return dict(plan)


def applied_by(payment: dict[str, Any] | None) -> dict[tuple[str, str], Decimal]:
    applied: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    for line in (payment or {}).get("Line", []):
        for link in line.get("LinkedTxn", []):
            applied[(link["TxnType"], link["TxnId"])] += Decimal(line["Amount"])
    return dict(applied)


def apply_payment(
    realm: Realm,
    payment_id: str,
    undo: dict[tuple[str, str], Decimal],
    plan: dict[tuple[str, str], Decimal],
) -> None:
    """Move invoice balances and credit memo credit from `undo` (the old lines) to `plan`."""
    for kind, txn_id in sorted(set(undo) | set(plan)):
        delta = plan.get((kind, txn_id), Decimal(0)) - undo.get((kind, txn_id), Decimal(0))
        target = realm.get(kind, txn_id)
        if target is None:
            continue
        before = {**target}
        changed = dict(target)
        open_field = "Balance" if kind == "Invoice" else "RemainingCredit"
        changed[open_field] = round_money(Decimal(target.get(open_field, 0)) - delta)
        if kind == "CreditMemo":
            changed["Balance"] = changed["RemainingCredit"]
        links = [link for link in target.get("LinkedTxn", []) if link.get("TxnId") != payment_id]
        if (kind, txn_id) in plan:
            links.append({"TxnId": payment_id, "TxnType": "Payment"})
        changed["LinkedTxn"] = links
        if delta or links != target.get("LinkedTxn", []):
            realm.touch(kind, changed, before)
