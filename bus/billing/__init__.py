"""The billing consumer: USAGE -> invoices on EVT, exactly once (consumer.py has the guarantees).

    consumer.py   BillingConsumer: batches of USAGE + tracking record in one atomic write; the period timer
    view.py       BillingView: invoices, seen record ids, accounts, budgets, rate cards from EVT
    settings.py   BillingSettings (period, grace, batch; TESSERA_BILLING_* env)
    service.py    BillingService: start()/stop() inside `tessera up` or `tessera billing`
"""

from bus.billing.consumer import BillingConsumer
from bus.billing.service import BillingService
from bus.billing.settings import BillingSettings
from bus.billing.view import BillingView

__all__ = ["BillingConsumer", "BillingService", "BillingSettings", "BillingView"]
