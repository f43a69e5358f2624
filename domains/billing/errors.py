"""The billing domain's errors: illegal invoice transitions, bad credits and budgets."""

from __future__ import annotations

from domains.errors import Conflict, DomainError, IllegalTransition, NotFound


class BillingError(DomainError):
    code = "billing_invalid"


class InvoiceNotFound(NotFound):
    code = "invoice_not_found"


class InvoiceTransition(IllegalTransition):
    """finalize a non-draft, void a void invoice, accrue to a finalized one."""

    code = "illegal_invoice_transition"


class PeriodOpen(BillingError):
    """Finalizing before the period has ended."""

    code = "period_open"


class CreditConflict(Conflict):
    code = "credit_conflict"


class WrongAccount(Conflict):
    code = "wrong_billing_account"
