import pytest

from bus.errors import ConcurrencyConflict, PublishError
from bus.publish import Ack, DuplicateBatch, _ack, _matches

EXPECT = {"Nats-Expected-Last-Subject-Sequence": "4", "Nats-Expected-Last-Subject-Sequence-Subject": "evt.t.job.j.*"}


def test_a_pub_ack_and_a_batch_ack_are_parsed():
    assert _ack(b'{"stream":"EVT","seq":7}', {}) == Ack("EVT", 7)
    batch = _ack(b'{"stream":"EVT","seq":9,"batch":"b1","count":3}', {})
    assert (batch.seq, batch.count, batch.first_seq) == (9, 3, 7)
    assert _ack(b'{"stream":"EVT","seq":7,"duplicate":true}', {}).duplicate


@pytest.mark.parametrize("code", [10071, 10164])
def test_wrong_last_sequence_is_a_concurrency_conflict_with_the_actual_head(code):
    raw = b'{"error":{"code":400,"err_code":%d,"description":"wrong last sequence: 6"},"seq":0}' % code
    with pytest.raises(ConcurrencyConflict) as caught:
        _ack(raw, EXPECT)
    assert (caught.value.subject_filter, caught.value.expected, caught.value.actual) == ("evt.t.job.j.*", 4, 6)


def test_a_known_message_id_in_an_atomic_batch_is_a_duplicate_batch():
    raw = b'{"error":{"code":400,"err_code":10201,"description":"atomic publish batch contains duplicate message id"}}'
    with pytest.raises(DuplicateBatch):
        _ack(raw, {})


def test_other_rejections_keep_the_server_description():
    raw = b'{"error":{"code":503,"err_code":10077,"description":"maximum bytes exceeded"}}'
    with pytest.raises(PublishError, match="maximum bytes exceeded") as caught:
        _ack(raw, {})
    assert caught.value.err_code == 10077


@pytest.mark.parametrize(
    ("pattern", "subject", "match"),
    [
        ("evt.t.job.j1.*", "evt.t.job.j1.placed", True),
        ("evt.t.job.j1.*", "evt.t.job.j10.placed", False),
        ("evt.t.job.j1.*", "evt.t.job.j1.placed.x", False),
        ("evt.>", "evt.t.job.j1.placed", True),
        ("evt.>", "evt", False),
        ("trk.app", "trk.app", True),
    ],
)
def test_subject_patterns_match_like_nats(pattern, subject, match):
    assert _matches(pattern, subject) is match
