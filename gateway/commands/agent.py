"""`tessera agent`: the process a deployment's replica job runs on its node (adapters/agent/runner.py).

    tessera agent --deployment <id> --replica <n> --generation <g> --model <m>
                  --engine <vllm|cpu> --max-concurrent <k> [--tenant T] [-- <engine_args>...]

Unlike the other client commands it joins the bus itself: `TESSERA_NATS_URL`
(and credentials, bus/settings.py) must name the platform's NATS; the tenant
is `--tenant` or `TESSERA_TENANT`. Exit codes: 0 after SIGTERM/SIGINT (entry
deregistered, engine stopped), 1 when the engine cannot start, is not healthy
in time or dies (the reason on stderr, and ReportReplicaLost sent), 2 for bad
arguments or configuration.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from typing import Annotated

import typer

from gateway.commands.common import stderr

CONTEXT = {"allow_extra_args": True}  # what follows `--` is the engine's


def _usage(message: str) -> typer.Exit:
    stderr.print(f"error: {message}", markup=False, soft_wrap=True)
    return typer.Exit(2)


def agent(
    ctx: typer.Context,
    deployment: Annotated[str, typer.Option(help="the deployment id")],
    replica: Annotated[int, typer.Option(min=0, help="the replica slot index")],
    generation: Annotated[int, typer.Option(min=1, help="the slot's generation (from the job)")],
    model: Annotated[str, typer.Option(help="the model name clients request")],
    engine: Annotated[str, typer.Option(help="vllm or cpu")] = "vllm",
    max_concurrent: Annotated[int, typer.Option(min=1, help="requests one replica serves at once")] = 1,
    tenant: Annotated[str | None, typer.Option(envvar="TESSERA_TENANT", help="the deployment's tenant")] = None,
    host: Annotated[str, typer.Option(help="where the engine listens")] = "127.0.0.1",
    advertise: Annotated[str | None, typer.Option(envvar="TESSERA_AGENT_ADVERTISE",
                                                     help="host put in the registered URL")] = None,
    startup_timeout: Annotated[float | None, typer.Option(min=0.1, help="seconds to become healthy")] = None,
    interval: Annotated[float, typer.Option(min=0.1, help="seconds between heartbeats")] = 2.0,
) -> None:
    """Run an inference engine for one replica and keep it registered for routing."""
    from adapters.agent.engine import EngineError
    from adapters.agent.engines import engine_for
    from adapters.agent.reports import AgentConfig
    from bus.errors import ConfigError
    from bus.settings import Settings

    if not tenant:
        raise _usage("no tenant: pass --tenant or set TESSERA_TENANT")
    try:
        settings = Settings.load()
        chosen = engine_for(engine, os.environ)
    except (ConfigError, EngineError) as exc:
        raise _usage(str(exc)) from None
    if settings.embedded:
        raise _usage("TESSERA_NATS_URL is not set: the agent joins the platform's NATS, it never starts one")
    config = AgentConfig(tenant=tenant, deployment=deployment, replica=replica, generation=generation, model=model,
                         engine=engine, max_concurrent=max_concurrent, engine_args=tuple(ctx.args), host=host,
                         advertise=advertise, startup_timeout=startup_timeout, interval=interval)
    logging.basicConfig(level=logging.INFO, format="[tessera agent] %(message)s")
    code, failure = asyncio.run(_run(settings, config, chosen))
    if failure:
        stderr.print(f"error: {failure}", markup=False, soft_wrap=True)
    raise typer.Exit(code)


async def _run(settings, config, engine) -> tuple[int, str | None]:
    from adapters.agent.reports import Reports
    from adapters.agent.runner import Agent
    from bus.connection import connect
    from bus.discovery import open_registry

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        nc = await connect(settings.nats_url, settings, name=f"tessera-agent-{config.deployment}-{config.replica}")
    except Exception as exc:  # noqa: BLE001 - ConnectError or nats-py's own: the message is the answer
        return 1, str(exc)
    try:
        registry = await open_registry(nc.jetstream())
        # the engine needs nothing of the bus: its credentials stay with the agent
        env = {k: v for k, v in os.environ.items() if not k.startswith("TESSERA_NATS_")}
        runner = Agent(config, engine, registry, Reports(nc, config), env=env)
        code = await runner.run(stop)
        return code, runner.failure
    finally:
        await nc.drain()
