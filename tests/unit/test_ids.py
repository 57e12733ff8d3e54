import time
import uuid

from gateway.ids import uuid7


def test_uuid7_is_a_version_7_rfc_9562_uuid_with_the_current_time():
    before = time.time_ns() // 1_000_000
    text = uuid7()
    after = time.time_ns() // 1_000_000
    value = uuid.UUID(text)
    assert str(value) == text  # canonical lower-case form
    assert value.version == 7
    assert value.variant == uuid.RFC_4122
    assert before <= value.int >> 80 <= after


def test_uuid7_ids_sort_by_time_and_do_not_repeat():
    ids = [uuid7() for _ in range(5000)]
    assert len(set(ids)) == len(ids)
    millis = [uuid.UUID(i).int >> 80 for i in ids]
    assert millis == sorted(millis)
