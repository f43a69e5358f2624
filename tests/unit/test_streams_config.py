from dataclasses import replace

from nats.js.api import DiscardPolicy

from bus.settings import Settings
from bus.streams import differences, expected_streams


def streams(**settings):
    return {c.name: c for c in expected_streams(Settings(**settings))}


def test_the_event_stream_never_evicts_and_allows_atomic_batches():
    evt = streams()["EVT"]
    assert evt.deny_delete and evt.deny_purge and evt.allow_atomic and evt.allow_direct
    assert evt.discard == DiscardPolicy.NEW
    assert (evt.max_age, evt.max_msgs, evt.max_bytes) == (0, -1, -1)
    assert set(evt.subjects) == {"evt.>", "trk.>"}


def test_replicas_and_the_duplicate_window_come_from_settings():
    configs = streams(replicas=3, duplicate_window=600)
    assert {c.num_replicas for c in configs.values()} == {3}
    assert {c.duplicate_window for c in configs.values()} == {600}


def test_usage_outlives_a_billing_period_and_logs_age_out():
    configs = streams()
    assert configs["USAGE"].max_age >= 45 * 86_400 and configs["USAGE"].discard == DiscardPolicy.NEW
    assert configs["LOG"].max_age == 7 * 86_400 and configs["LOG"].discard == DiscardPolicy.OLD


def test_differences_names_each_drifted_setting_and_ignores_subject_order():
    expected = streams()["EVT"]
    found = replace(expected, subjects=["trk.>", "evt.>"], deny_purge=False, max_age=3600.0)
    assert differences(expected, found) == {"deny_purge": (True, False), "max_age": (0, 3600.0)}
    assert differences(expected, expected) == {}
