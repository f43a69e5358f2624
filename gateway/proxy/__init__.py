"""The OpenAI-compatible inference proxy: API keys, limits and budgets, routing to replicas, usage records.

    routes.py     the /v1 routes (a router for the gateway's app or the proxy's own)
    handler.py    one request end to end (Proxy)
    bodies.py     reading OpenAI bodies         errors.py   OpenAI-shaped errors
    replicas.py   discovery -> least-loaded healthy replica
    upstream.py   HTTP transport to the engines streaming.py  SSE relay, disconnect -> cancel
    http1.py, http1_response.py   the pooled raw HTTP/1.1 client upstream.py uses
    asgi.py       the hot routes as a bare ASGI app serving.py   uvicorn protocol: corked writes, disconnect hooks
    limits.py     rpm/tpm/budget across proxies (KV compare-and-set: reserve, settle)
    alerts.py     key budget alerts (50/80/100%) reported to CMD
    budgets.py    tenant spend budgets: a hard one at 100% refuses new requests
    pricing.py    rate cards -> price per 1k tokens
    meter.py      what a request used           usage.py    usage records on USAGE
    app.py        ProxyRuntime: composition of the above, uvicorn
"""
