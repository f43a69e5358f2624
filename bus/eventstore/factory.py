"""`PERSISTENCE_MODULE=bus.eventstore`: the library's infrastructure factory for JetStream.

Environment (read from the application's environment when the factory is
built, never at import): `TESSERA_NATS_URL` (required: the factory connects to
a running server, it never starts one) plus the other `TESSERA_NATS_*` settings
of `bus.settings`; `TESSERA_ES_STREAM` (default EVT) and the other
`TESSERA_ES_*` keys of `StoreConfig.from_env`; `TESSERA_ES_CREATE_STREAM`
(default yes) creates a missing stream with the EVT rules — an existing stream
is used as it is.

Applications configured with the same stream share one notification log (EVT
is one log for everything). A process application that must not see its own
output in its upstream's log gets a stream of its own through the library's
per-application keys: `<APPNAME>_TESSERA_ES_STREAM`, `..._EVENT_PREFIX`,
`..._TRACKING_PREFIX`. Snapshots (`IS_SNAPSHOTTING_ENABLED`) go to a stream of
their own, `<stream>_SNAPSHOTS`.

All recorders of one factory share one `Runner` (loop thread + connection),
opened on first use and closed by `close()`.
"""

from __future__ import annotations

import threading

from eventsourcing.persistence import (
    AggregateRecorder,
    ApplicationRecorder,
    InfrastructureFactory,
    InfrastructureFactoryError,
    ProcessRecorder,
)
from eventsourcing.utils import Environment, EnvType, resolve_topic, strtobool

from bus.eventstore.config import StoreConfig, ensure_stream
from bus.eventstore.recorders import (
    JetStreamAggregateRecorder,
    JetStreamApplicationRecorder,
    JetStreamProcessRecorder,
    JetStreamTrackingRecorder,
)
from bus.eventstore.runner import Runner
from bus.settings import Settings


class Factory(InfrastructureFactory[JetStreamTrackingRecorder]):
    CREATE_STREAM = "TESSERA_ES_CREATE_STREAM"

    def __init__(self, env: Environment | EnvType | None) -> None:
        super().__init__(env)
        self.config = StoreConfig.from_env(self.env)
        self._runner: Runner | None = None
        self._ensured: set[str] = set()
        self._lock = threading.Lock()

    def _settings(self) -> Settings:
        tessera = {key: self.env.get(key) for key in list(self.env) if key.startswith("TESSERA_")}
        return Settings.load({k: v for k, v in tessera.items() if v is not None})

    def _open(self, config: StoreConfig) -> Runner:
        with self._lock:
            if self._runner is None or self._runner.closed:
                settings = self._settings()
                if not settings.nats_url:
                    raise InfrastructureFactoryError(
                        "PERSISTENCE_MODULE=bus.eventstore needs TESSERA_NATS_URL (a running NATS server)"
                    )
                self._runner = Runner(settings.nats_url, settings, name=f"tessera-es-{self.env.name or 'app'}")
            runner = self._runner
            if config.stream not in self._ensured and strtobool(self.env.get(self.CREATE_STREAM, "yes")):
                runner.call(ensure_stream(runner.nc.jetstream(), config), config.call_timeout)
                self._ensured.add(config.stream)
            return runner

    def aggregate_recorder(self, purpose: str = "events") -> AggregateRecorder:
        config = self.config.snapshots() if purpose == "snapshots" else self.config
        return JetStreamAggregateRecorder(self._open(config), config)

    def application_recorder(self) -> ApplicationRecorder:
        return JetStreamApplicationRecorder(self._open(self.config), self.config)

    def tracking_recorder(
        self, tracking_recorder_class: type[JetStreamTrackingRecorder] | None = None
    ) -> JetStreamTrackingRecorder:
        if tracking_recorder_class is None:
            topic = self.env.get(self.TRACKING_RECORDER_TOPIC)
            tracking_recorder_class = resolve_topic(topic) if topic else JetStreamTrackingRecorder
        assert tracking_recorder_class is not None and issubclass(tracking_recorder_class, JetStreamTrackingRecorder)
        return tracking_recorder_class(self._open(self.config), self.config)

    def process_recorder(self) -> ProcessRecorder:
        return JetStreamProcessRecorder(self._open(self.config), self.config)

    def close(self) -> None:
        with self._lock:
            runner, self._runner = self._runner, None
        if runner is not None:
            runner.close()
