"""Feature flags, declared in code: what exists, what it does, and whether it is still in beta.

A `beta` feature is on only for accounts that joined the beta group (the account-admin's switch
on the Account page, or instance staff's); a `ga` feature is on for everyone. Views and tasks ask
one question, `feature_enabled(account, name)`, and an unknown name raises so a typo fails loudly
instead of silently switching a feature off.
"""

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, get_args

if TYPE_CHECKING:
    from ledgerbridge.accounts.models import Account

Stage = Literal["beta", "ga"]
STAGES: tuple[str, ...] = get_args(Stage)


@dataclass(frozen=True)
class Feature:
    name: str
    description: str
    stage: Stage


FEATURES: dict[str, Feature] = {}


def register(name: str, description: str, *, stage: Stage) -> Feature:
    """Declare a feature; registering the same name twice is a mistake and raises."""
    if stage not in STAGES:
        raise ValueError(f"Feature {name!r} has stage {stage!r}; use one of {', '.join(STAGES)}")
    if name in FEATURES:
        raise ValueError(f"Feature {name!r} is already registered")
    feature = Feature(name=name, description=description, stage=stage)
    FEATURES[name] = feature
    return feature


def get_feature(name: str) -> Feature:
    try:
        return FEATURES[name]
    except KeyError:
        known = ", ".join(sorted(FEATURES)) or "none"
        raise KeyError(
            f"No feature named {name!r} is registered in ledgerbridge.core.features "
            f"(registered: {known})"
        ) from None


def feature_enabled(account: "Account | None", name: str) -> bool:
    """Whether `name` is on for `account`: GA features always, beta ones for the beta group."""
    feature = get_feature(name)
    if feature.stage == "ga":
        return True
    return account is not None and account.beta_enabled


def beta_features() -> list[Feature]:
    return sorted((f for f in FEATURES.values() if f.stage == "beta"), key=lambda f: f.name)


REALTIME_SYNC = register(
    "realtime-sync",
    "Sync records as soon as the PSA changes them, instead of on the next scheduled run.",
    stage="beta",
)
