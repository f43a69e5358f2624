"""Identity through the control plane on a real nats-server, read back through IdentityModel.

Commands enter CMD as the gateway would send them; the ControlPlane decides
them; a ProjectionRunner keeps an IdentityModel current; the bootstrap
reactor records the bootstrap's admin and token on their own aggregates.
Checked: bootstrap once (a second is dead-lettered `already_bootstrapped`),
revocation effective the moment its event is applied, disabled users locked
out, the bootstrap token revocable, no plain secret anywhere on the log, and a
rebuilt model equal to the live one.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime, timedelta

import pytest

from bus.commands import send
from bus.connection import Bus, connect
from bus.control import ControlPlane, ControlSettings
from bus.control.bootstrap import IdentityBootstrap
from bus.control.runner import ControlRunner
from bus.publish import Publisher
from bus.streams import ensure_streams
from domains.identity import tokens
from gateway.tokens import new_token
from projections.identity import IdentityModel
from projections.runner import ProjectionRunner
from schemas import PLATFORM_TENANT, Envelope, decode
from schemas import identity as i
from tests.factories.control import eventually
from tests.integration.conftest import stored_msgs


def now() -> datetime:
    return datetime.now(UTC)


class WatchedModel(IdentityModel):
    """Records, right after each TokenRevoked is applied, whether the revoked token still authenticates."""

    def __init__(self) -> None:
        super().__init__()
        self.watch: dict[str, str] = {}  # token id -> token string
        self.after_revoke: dict[str, object] = {}

    def apply_batch(self, batch) -> int:
        applied = 0
        for env, seq in batch:
            applied += self.apply(env, seq)
            if isinstance(env.data, i.TokenRevoked) and env.data.token_id in self.watch:
                self.after_revoke[env.data.token_id] = self.authenticate(self.watch[env.data.token_id], now())
        return applied


@pytest.fixture
async def bus(nats_server, settings):
    nc = await connect(nats_server.url, settings)
    await ensure_streams(nc.jetstream(), settings)
    yield Bus(nc=nc, js=nc.jetstream(), settings=settings, url=nats_server.url)
    await nc.close()


@pytest.fixture
async def plane(bus):
    plane = ControlPlane(bus, ControlSettings(drain_timeout=2.0))
    await plane.start()
    tasks = []
    if "identity-bootstrap" not in plane.runners:  # until plane.py wires the bootstrap reactor itself
        runner = ControlRunner(bus.nc, IdentityBootstrap(), plane.tracking)
        tasks.append(asyncio.create_task(runner.run()))
    yield plane
    if tasks:
        await runner.stop()
        for task in tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
    await plane.stop()


async def command(bus: Bus, tenant: str, cmd, actor: str = "user:_platform/root") -> Envelope:
    env = Envelope.for_command(cmd, tenant=tenant, actor=actor, source="/tests/gateway", time=now())
    await send(Publisher(bus.nc, stream="CMD"), env)
    return env


async def dead_letters(bus: Bus) -> list[str]:
    return [decode(m.data).data.error for m in await stored_msgs(bus.nc, "DLQ")]


async def test_identity_lifecycle_through_the_control_plane(bus, plane):
    model = WatchedModel()
    stop = asyncio.Event()
    following = asyncio.create_task(ProjectionRunner(bus.nc, model, flush_interval=0.02).run(stop))
    expiry = now() + timedelta(days=1)
    try:
        # bootstrap: the admin's token works; a second bootstrap is refused
        root_token, root_id, root_hash = new_token()
        await command(bus, PLATFORM_TENANT, i.BootstrapPlatform(admin_user_id="root", token_id=root_id,
                                                                token_hash=root_hash, expires_at=expiry))
        root = await eventually(lambda: model.authenticate(root_token, now()))
        assert root.is_platform_admin and root.actor == "user:_platform/root" and model.bootstrapped
        _, other_id, other_hash = new_token()
        await command(bus, PLATFORM_TENANT, i.BootstrapPlatform(admin_user_id="root2", token_id=other_id,
                                                                token_hash=other_hash, expires_at=expiry))
        reasons = await eventually(lambda: dead_letters(bus))
        assert len(reasons) == 1 and "already_bootstrapped at $" in reasons[0]

        # a tenant, a member with a token; a revocation stops it the moment it is applied
        await command(bus, PLATFORM_TENANT, i.CreateTenant(tenant="acme", display_name="ACME"))
        await command(bus, "acme", i.CreateUser(user_id="alice", name="Alice", role="member"))
        alice_token, alice_id, alice_hash = new_token()
        await command(bus, "acme", i.IssueToken(token_id=alice_id, user_id="alice", name="laptop",
                                                token_hash=alice_hash, expires_at=expiry))
        alice = await eventually(lambda: model.authenticate(alice_token, now()))
        assert (alice.tenant, alice.user_id, alice.role) == ("acme", "alice", "member")
        assert model.tenant("acme").display_name == "ACME"
        model.watch[alice_id] = alice_token
        await command(bus, "acme", i.RevokeToken(token_id=alice_id), actor="user:acme/alice")
        await eventually(lambda: alice_id in model.after_revoke)
        assert model.after_revoke[alice_id] is None and model.authenticate(alice_token, now()) is None

        # disabling a user locks out every token it has, including ones issued afterwards
        second_token, second_id, second_hash = new_token()
        await command(bus, "acme", i.IssueToken(token_id=second_id, user_id="alice", name="ci",
                                                token_hash=second_hash, expires_at=expiry))
        await eventually(lambda: model.authenticate(second_token, now()))
        await command(bus, "acme", i.DisableUser(user_id="alice"))
        await eventually(lambda: model.user("acme", "alice").disabled)
        assert model.authenticate(second_token, now()) is None
        late_token, late_id, late_hash = new_token()
        await command(bus, "acme", i.IssueToken(token_id=late_id, user_id="alice", name="late",
                                                token_hash=late_hash, expires_at=expiry))
        await eventually(lambda: model.token("acme", late_id))
        assert model.authenticate(late_token, now()) is None

        # the bootstrap token has a token aggregate (bootstrap reactor): it can be revoked like any other
        model.watch[root_id] = root_token
        await eventually(lambda: _copied(bus, root_id))
        await command(bus, PLATFORM_TENANT, i.RevokeToken(token_id=root_id))
        await eventually(lambda: root_id in model.after_revoke)
        assert model.after_revoke[root_id] is None
        assert len(await dead_letters(bus)) == 1  # nothing else was refused
    finally:
        stop.set()
        await following

    # no plain secret anywhere on the log (events, commands, dead letters), only hashes
    secrets = [tokens.parse(t)[1] for t in (root_token, alice_token, second_token, late_token)]
    for stream in ("EVT", "CMD", "DLQ"):
        for msg in await stored_msgs(bus.nc, stream):
            blob = msg.data + repr(msg.headers).encode()
            assert not any(s.encode() in blob for s in secrets), f"a plain secret on {stream} seq {msg.seq}"
    issued = [decode(m.data).data for m in await stored_msgs(bus.nc, "EVT", "evt.acme.token.>")]
    assert {e.token_hash for e in issued if isinstance(e, i.TokenIssued)} == {alice_hash, second_hash, late_hash}

    rebuilt = IdentityModel()
    await ProjectionRunner(bus.nc, rebuilt).catch_up()
    assert rebuilt.position() == model.position() and rebuilt.state_hash() == model.state_hash()


async def _copied(bus: Bus, token_id: str) -> bool:
    return bool(await stored_msgs(bus.nc, "EVT", f"evt.{PLATFORM_TENANT}.token.{token_id}.>"))
