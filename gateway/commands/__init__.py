"""The client side of the `tessera` command: one Typer app per command group, all over HTTP.

Every command here talks only to the gateway's /v1 API through `gateway.client`; none
touches the bus. `register(app)` adds them to the `tessera` app.
"""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    from gateway.commands import auth, clusters, identity, insight, jobs, workflows

    app.add_typer(auth.app)  # login, logout, whoami
    app.add_typer(identity.tenants, name="tenants")
    app.add_typer(identity.users, name="users")
    app.add_typer(identity.tokens, name="tokens")
    app.add_typer(clusters.clusters, name="clusters")
    app.add_typer(clusters.nodes, name="nodes")
    app.add_typer(jobs.app, name="jobs")
    app.add_typer(workflows.app, name="workflows")
    app.add_typer(insight.app)  # usage, audit, dry-run
