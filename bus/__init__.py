"""The log: NATS JetStream as Tessera's system of record.

One concept per module:
    settings    configuration (file, environment, defaults)
    server      nats-server processes (embedded mode, test fixtures)
    connection  connect to the embedded server or a configured cluster
    streams     the streams and their expected config (drift is reported)
    subjects    the one mapping from message type to subject
    publish     writes: Nats-Msg-Id, optimistic concurrency, atomic batches, unknown outcomes
    direct      Direct Get reads: one aggregate, one head
    read        replay and follow
    consumer    durable pull consumers: ack after effect, backoff, dead letters
    eventstore  the eventsourcing library's recorders on the EVT stream
    aggregates  load/append aggregates through the library's EventStore
    handler     deciders and the load-decide-append-retry command handler
    commands    sending commands and the durable command consumer
    reactor     reactors (process managers): events in, commands out, tracked position
    control     the control plane: deciders for every aggregate, the reactors, `ControlPlane`

nats-py is used directly throughout this package; FastStream is not used here.
The guarantees above live in details FastStream abstracts away: per-message
expectation headers and their error codes, the atomic-batch protocol, read-back
of an unacknowledged publish, the delivery count that decides dead-lettering,
nak-on-shutdown, and Direct Get. FastStream fits the thin, typed command
subscribers that later sit on top of this package (routing and validation
tested with its in-memory broker, never the ack semantics).
"""
