"""`EnvelopeMapper`: our pydantic event envelopes through the library's `EventStore`.

The library's own `Mapper` turns Python objects into `StoredEvent`s with a
transcoder and class topics. Ours keeps the wire contract of `schemas`
instead: the state is the envelope's structured-mode CloudEvents JSON
(`schemas.codec.encode`), the topic is the stable `type`
(`tessera.<domain>.<name>.vN`, never a Python path) and the originator id is
"tenant.aggregate.aggregateid", so the recorder files it at
`evt.<tenant>.<aggregate>.<id>.<name>` — the subject any other EVT writer uses.
Reading back decodes with `schemas.codec.decode`, which applies upcasters, so
old payload versions arrive as the current class. A configured compressor or
cipher wraps the JSON as in the library's mapper. Only events map: a command
envelope raises TypeError.
"""

from __future__ import annotations

from typing import Any

from eventsourcing.persistence import Cipher, Compressor, Mapper, MapperDeserialisationError, StoredEvent, Transcoder

from schemas import codec
from schemas.envelope import Envelope


class EnvelopeMapper(Mapper[str]):
    def __init__(self, transcoder: Transcoder | None = None, compressor: Compressor | None = None,
                 cipher: Cipher | None = None) -> None:
        # The transcoder is accepted for the factory's call signature; envelopes encode themselves.
        super().__init__(transcoder=transcoder, compressor=compressor, cipher=cipher)  # type: ignore[arg-type]

    def to_stored_event(self, domain_event: Any) -> StoredEvent:
        env = domain_event
        if not isinstance(env, Envelope) or not env.is_event:
            raise TypeError(f"EnvelopeMapper stores event envelopes, got {type(domain_event).__name__}")
        state = codec.encode(env)
        if self.compressor:
            state = self.compressor.compress(state)
        if self.cipher:
            state = self.cipher.encrypt(state)
        return StoredEvent(
            originator_id=f"{env.tenant}.{env.aggregate}.{env.aggregateid}",
            originator_version=env.version,  # type: ignore[arg-type]  # set for every event envelope
            topic=env.type,
            state=state,
        )

    def to_domain_event(self, stored_event: StoredEvent) -> Any:
        state = stored_event.state
        try:
            if self.cipher:
                state = self.cipher.decrypt(state)
            if self.compressor:
                state = self.compressor.decompress(state)
            return codec.decode(state)
        except Exception as exc:  # codec.DecodeError, cipher/compressor errors: all mean "unreadable record"
            raise MapperDeserialisationError(
                f"cannot decode stored event {stored_event.originator_id} v{stored_event.originator_version} "
                f"({stored_event.topic}): {exc}"
            ) from exc
