"""The metering domain's errors: unrated usage, bad rate cards, inconsistent job histories."""

from __future__ import annotations

from domains.errors import Conflict, DomainError, NotFound


class MeteringError(DomainError):
    code = "metering_invalid"


class UnknownGpuModel(MeteringError):
    """Usage of a GPU model the rate card has no price for."""

    code = "unknown_gpu_model"


class UnknownTokenModel(MeteringError):
    code = "unknown_token_model"


class RateCardVersionConflict(Conflict):
    code = "rate_card_version_conflict"


class RateCardNotLater(MeteringError):
    code = "rate_card_not_later"


class NoRateCardInForce(NotFound):
    code = "no_rate_card_in_force"


class InconsistentJobHistory(MeteringError):
    """A job history metering cannot bill: GPUs placed twice, no GPU model, naive times."""

    code = "inconsistent_job_history"
