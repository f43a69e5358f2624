"""Factories for the identity tests: commands, events, event envelopes and real token strings."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from domains.identity import tokens
from schemas import PLATFORM_TENANT, Envelope, Event, event_id
from schemas import identity as i

T0 = datetime(2026, 5, 1, 9, 0, tzinfo=UTC)
DAY = timedelta(days=1)
SECRET = "s" * tokens.SECRET_LENGTH
PLATFORM = PLATFORM_TENANT


def token_str(token_id: str = "tok000000001", secret: str = SECRET) -> str:
    return tokens.format_token(token_id, secret)


def issue_token(token_id: str = "tok000000001", user_id: str = "alice", *, secret: str = SECRET,
                expires_at: datetime = T0 + 30 * DAY, name: str = "laptop") -> i.IssueToken:
    return i.IssueToken(token_id=token_id, user_id=user_id, name=name, token_hash=tokens.hash_secret(secret),
                        expires_at=expires_at)


def token_issued(token_id: str = "tok000000001", user_id: str = "alice", *, secret: str = SECRET,
                 expires_at: datetime = T0 + 30 * DAY, name: str = "laptop") -> i.TokenIssued:
    return i.TokenIssued(**issue_token(token_id, user_id, secret=secret, expires_at=expires_at,
                                       name=name).model_dump())


def bootstrap(admin: str = "root", token_id: str = "boot00000001", *, secret: str = SECRET,
              expires_at: datetime = T0 + 30 * DAY) -> i.BootstrapPlatform:
    return i.BootstrapPlatform(admin_user_id=admin, token_id=token_id, token_hash=tokens.hash_secret(secret),
                               expires_at=expires_at)


def bootstrapped(admin: str = "root", token_id: str = "boot00000001", *, secret: str = SECRET,
                 expires_at: datetime = T0 + 30 * DAY) -> i.PlatformBootstrapped:
    return i.PlatformBootstrapped(**bootstrap(admin, token_id, secret=secret, expires_at=expires_at).model_dump())


def aggregate_of(event: Event) -> tuple[str, str]:
    """(aggregate, id) an identity event is stored under."""
    if isinstance(event, i.TenantCreated):
        return "tenant", event.tenant
    if isinstance(event, i.PlatformBootstrapped):
        return "platform", "identity"
    if isinstance(event, (i.TokenIssued, i.TokenRevoked)):
        return "token", event.token_id
    if hasattr(event, "key_id"):  # the API key events
        return "apikey", event.key_id
    return "user", event.user_id


class History:
    """Event envelopes as the log would hold them, with stream sequences 1, 2, ..."""

    def __init__(self) -> None:
        self.seq = 0
        self.versions: dict[tuple[str, str, str], int] = {}

    def __call__(self, tenant: str, *events: Event, time: datetime = T0) -> list[tuple[Envelope, int]]:
        out = []
        for event in events:
            aggregate, id = aggregate_of(event)
            self.seq += 1
            version = self.versions[(tenant, aggregate, id)] = self.versions.get((tenant, aggregate, id), 0) + 1
            cause = f"cause-{self.seq}"
            env = Envelope(specversion="1.0", id=event_id(cause, 0), source="/tests", type=event.TYPE, time=time,
                           tenant=tenant, actor="test", correlationid=cause, causationid=cause, data=event,
                           aggregate=aggregate, aggregateid=id, version=version)
            out.append((env, self.seq))
        return out
