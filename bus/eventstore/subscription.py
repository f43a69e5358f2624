"""`ApplicationRecorder.subscribe()`: follow the event subjects of the stream from a position.

The library's `ListenNotifySubscription` does the work: a puller thread reads
pages of notifications (`select_notifications`, Direct Get, gt the last id
yielded) into a bounded queue, so a slow iterator applies backpressure. It
pulls again whenever it is woken up: by a core NATS subscription on the event
subjects (every stored event is also delivered to core subscribers, possibly
just before the stream has it) and, because such a wake-up can race the store,
at least every `poll_interval` seconds. Notifications arrive in stream order,
each exactly once per subscription. `stop()` ends iteration and drops the
wake-up subscription; an error of the puller is raised from the iterator.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Sequence

from eventsourcing.persistence import ListenNotifySubscription

if TYPE_CHECKING:
    from bus.eventstore.recorders import JetStreamApplicationRecorder


class JetStreamSubscription(ListenNotifySubscription["JetStreamApplicationRecorder"]):
    def __init__(self, recorder: JetStreamApplicationRecorder, gt: int | None = None, topics: Sequence[str] = (),
                 *, poll_interval: float = 1.0) -> None:
        self._poll_interval = poll_interval  # read by the puller thread the base class starts
        self._wakeup_sub = None
        super().__init__(recorder=recorder, gt=gt, topics=topics)
        runner = recorder.runner
        try:
            self._wakeup_sub = runner.call(
                runner.nc.subscribe(recorder.config.events_filter, cb=self._woken), recorder.config.call_timeout
            )
        except BaseException:
            self.stop()  # ends the puller thread the base class started
            raise

    async def _woken(self, _msg) -> None:
        self._has_been_notified.set()

    def stop(self) -> None:
        super().stop()
        sub, self._wakeup_sub = self._wakeup_sub, None
        if sub is not None and not self._recorder.runner.closed:
            self._recorder.runner.spawn(sub.unsubscribe())

    def _loop_on_pull(self) -> None:
        # As the base class, but a wake-up may come before the stream has the message: poll as well.
        try:
            self._pull()
            while not self._has_been_stopped:
                self._has_been_notified.wait(self._poll_interval)
                self._pull()
        except BaseException as exc:  # handed to the iterating thread by the base class
            if self._thread_error is None:
                self._thread_error = exc
            self.stop()
