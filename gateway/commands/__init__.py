"""The client side of the `tessera` command: one Typer app per command group, all over HTTP.

Every command here talks only to the gateway's /v1 API through `gateway.client`; none
touches the bus, except `tessera billing` (billing.py, the billing consumer), `tessera agent`
(agent.py), which runs on a node and joins it, `tessera proxy`
(proxy.py), the inference proxy, and `tessera replay` (replay.py), which rebuilds read models from the log.
`register(app)` adds them to the `tessera` app.
"""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    from gateway.commands import (
        agent,
        auth,
        billing,
        budget,
        clusters,
        common,
        credits,
        deployments,
        identity,
        insight,
        invoices,
        jobs,
        keys,
        proxy,
        ratecards,
        replay,
        workflows,
    )

    app.callback()(common.global_options)  # --as-of: every read answers the past state

    app.add_typer(auth.app)  # login, logout, whoami
    app.add_typer(identity.tenants, name="tenants")
    app.add_typer(identity.users, name="users")
    app.add_typer(identity.tokens, name="tokens")
    app.add_typer(clusters.clusters, name="clusters")
    app.add_typer(clusters.nodes, name="nodes")
    app.add_typer(jobs.app, name="jobs")
    app.add_typer(workflows.app, name="workflows")
    app.add_typer(deployments.app, name="deployments")
    app.add_typer(keys.app, name="keys")
    app.add_typer(insight.app)  # usage, audit, dry-run
    app.add_typer(invoices.app, name="invoices")
    app.add_typer(ratecards.app, name="ratecards")
    app.add_typer(budget.app, name="budget")
    app.add_typer(credits.app, name="credits")
    app.command("billing")(billing.billing)  # the billing consumer: joins the bus (billing.py)
    app.command("proxy")(proxy.proxy)  # the inference proxy: serves, joins the bus (proxy.py)
    app.command("agent", context_settings=agent.CONTEXT)(agent.agent)  # a replica's process on its node
    app.command("replay")(replay.replay)  # rebuild read models from the log (bus, not HTTP): replay.py
