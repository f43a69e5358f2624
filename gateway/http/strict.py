"""Unknown query parameters are refused, not ignored: `?statu=running` is a typo, not "every job".

`check_query(request)`: every query parameter of the request must be one the
matched route documents in `/openapi.json` (the document is the contract:
what it does not name, the route does not read). Anything else answers 422
`invalid` with the parameter's name as `field`, and so does a single-valued
parameter given twice (`?status=a&status=b`: which one did the caller mean?). Called by the auth
dependencies (auth.py) once the caller is known, so an unauthenticated or
forbidden call still answers 401/403 first. Pure: reads the app's OpenAPI
document once per route (cached on the app state).
"""

from __future__ import annotations

from fastapi import Request

from gateway.http.errors import Invalid


def documented(request: Request) -> dict[str, bool] | None:
    """The query parameters the matched route documents (name -> may repeat); None: not a documented route."""
    route = request.scope.get("route")
    path = getattr(route, "path", None)
    if path is None:
        return None
    cache: dict | None = getattr(request.app.state, "query_names", None)
    if cache is None:
        cache = request.app.state.query_names = {}
    key = (path, request.method.lower())
    if key not in cache:
        operation = request.app.openapi().get("paths", {}).get(path, {}).get(request.method.lower())
        cache[key] = None if operation is None else {  # undocumented routes (not in the schema): unchecked
            p["name"]: _is_array(p.get("schema", {})) for p in operation.get("parameters", ()) if p.get("in") == "query"}
    return cache[key]


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


def _is_array(schema: dict) -> bool:
    options = [schema, *schema.get("anyOf", ()), *schema.get("oneOf", ())]
    return any(option.get("type") == "array" for option in options)
