"""One router per resource; each module's `router(services)` builds it with its dependencies."""
