"""Budget alerts in the identity read model: the view lists them per revision, the principal carries them."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from projections.identity import IdentityModel
from schemas import identity as i
from tests.factories.identity import T0, History
from tests.unit.projections.test_identity_api_keys import KEY, KEY_ID, created


def crossed(threshold: int, revision: int = 1, spent: str = "20", limit: str = "25"):
    return i.ApiKeyBudgetThresholdCrossed(key_id=KEY_ID, threshold=threshold, spent=spent, limit=limit,
                                          budget_revision=revision)


def test_alerts_of_the_current_revision_are_listed_once_and_a_budget_change_clears_them():
    log, model = History(), IdentityModel()
    model.apply_batch(log("acme", created()))
    model.apply_batch(log("acme", crossed(50), crossed(80), crossed(50), time=T0 + timedelta(minutes=5)))
    view = model.api_key("acme", KEY_ID)
    assert [(a.threshold, a.spent, a.limit, a.time) for a in view.budget_alerts] == [
        (50, Decimal(20), Decimal(25), T0 + timedelta(minutes=5)), (80, Decimal(20), Decimal(25),
                                                                    T0 + timedelta(minutes=5))]
    principal = model.authenticate_key(KEY, T0)
    assert (principal.budget_revision, principal.budget_alerts) == (1, frozenset({50, 80}))

    model.apply_batch(log("acme", i.ApiKeyBudgetChanged(key_id=KEY_ID, budget="100", previous="25"),
                          crossed(100, revision=1)))  # a late alert of the old budget: ignored
    view = model.api_key("acme", KEY_ID)
    assert (view.budget, view.budget_revision, view.budget_alerts) == (Decimal(100), 2, ())
    principal = model.authenticate_key(KEY, T0)
    assert (principal.budget, principal.budget_revision, principal.budget_alerts) == (Decimal(100), 2, frozenset())


def test_a_rebuilt_model_has_the_same_alerts_and_hash():
    log = History()
    events = [*log("acme", created()), *log("acme", crossed(50), crossed(80))]
    live, rebuilt = IdentityModel(), IdentityModel()
    for env, seq in events:
        live.apply(env, seq)
    rebuilt.apply_batch(events)
    assert live.state_hash() == rebuilt.state_hash()
    assert live.api_key("acme", KEY_ID) == rebuilt.api_key("acme", KEY_ID)
