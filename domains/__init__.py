"""Pure decision logic, one package per bounded context.

Every domain has the same shape (STYLE.md rules 3-4):

    domains/<name>/state.py    the immutable state and `evolve(state, event) -> state`
                               (one `functools.singledispatch` registration per event type)
    domains/<name>/decide.py   `decide(state, command, *, now) -> list[Event]`
    domains/<name>/errors.py   the domain's `DomainError` subclasses

No I/O, no clock (`now` is passed in), no random ids (derive them with
`schemas.derived_id` from the causing command). A business outcome is an
event others react to (`JobUnschedulable`); an invalid request is a
`DomainError` (the consumer dead-letters it, the gateway answers 4xx).
"""
