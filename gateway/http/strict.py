"""Unknown query parameters are refused, not ignored: `?statu=running` is a typo, not "every job".

`check_query(request)`: every query parameter of the request must be one the
matched route documents in `/openapi.json` (the document is the contract:
what it does not name, the route does not read). Anything else answers 422
`invalid` with the parameter's name as `field`, and so does a single-valued
parameter given twice (`?status=a&status=b`: which one did the caller mean?). Called by the auth
dependencies (auth.py) once the caller is known, so an unauthenticated or
forbidden call still answers 401/403 first. Pure: reads the route's
parameters (the ones FastAPI puts in the OpenAPI document) once per route,
cached on the app state; the document itself is never built on a request path.
"""

from __future__ import annotations

from fastapi import Request
from fastapi.dependencies.utils import field_annotation_is_sequence

from gateway.http.errors import Invalid


def documented(request: Request) -> dict[str, bool] | None:
    """The query parameters the matched route documents (name -> may repeat); None: not a documented route."""
    route = request.scope.get("route")
    dependant = getattr(route, "dependant", None)
    if dependant is None or not getattr(route, "include_in_schema", False):
        return None  # undocumented routes (not in the schema): unchecked
    cache: dict | None = getattr(request.app.state, "query_names", None)
    if cache is None:
        cache = request.app.state.query_names = {}
    key = (route.path, request.method.lower())
    if key not in cache:
        cache[key] = query_names(dependant)
    return cache[key]


def query_names(dependant) -> dict[str, bool]:
    """Every query parameter of the route and its dependencies (what /openapi.json lists) -> may repeat."""
    names: dict[str, bool] = {}
    pending = [dependant]
    while pending:
        current = pending.pop()
        for field in current.query_params:
            names[field.alias] = field_annotation_is_sequence(field.field_info.annotation)
        pending.extend(current.dependencies)
    return names


def check_query(request: Request) -> None:
    known = documented(request)
    if known is None:
        return
    problems = []
    for name in dict.fromkeys(request.query_params.keys()):
        if name not in known:
            hint = f"; this route takes {', '.join(sorted(known))}" if known else "; this route takes none"
            problems.append((name, f"unknown query parameter{hint}"))
        elif not known[name] and len(request.query_params.getlist(name)) > 1:
            problems.append((name, "given more than once; it takes one value"))
    if problems:
        raise Invalid(problems)
