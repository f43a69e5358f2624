"""The indexed store's ordered keys and pagination agree with a plain sorted list."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from projections.registry import sortedkeys
from projections.registry.sortedkeys import SortedKeys
from projections.registry.store import IndexedStore

ops = st.lists(st.tuples(st.booleans(), st.integers(0, 3000)), max_size=3000)


@settings(max_examples=30, deadline=None)
@given(ops=ops, probe=st.integers(-1, 3001))
def test_sorted_keys_iterate_like_a_sorted_set_after_any_adds_and_removes(ops, probe):
    sortedkeys.LOAD = 4  # small chunks: splits and empty chunks happen on small inputs
    try:
        keys, model = SortedKeys(), set()
        for add, k in ops:
            if add and k not in model:  # keys are unique by contract: the store never adds one twice
                keys.add(k)
                model.add(k)
            elif not add:
                keys.discard(k)
                model.discard(k)
        assert len(keys) == len(model)
        assert list(keys.after()) == sorted(model)
        assert list(keys.after(probe)) == sorted(k for k in model if k > probe)
        assert list(keys.before(probe)) == sorted((k for k in model if k < probe), reverse=True)
    finally:
        sortedkeys.LOAD = 512


@settings(max_examples=30, deadline=None)
@given(items=st.dictionaries(st.text("abc", min_size=1, max_size=3), st.sampled_from("xyz")),
       moves=st.dictionaries(st.text("abc", min_size=1, max_size=3), st.sampled_from("xyz")),
       size=st.integers(1, 5))
def test_paging_a_filtered_descending_list_returns_every_match_once(items, moves, size):
    store = IndexedStore(key=lambda v: v[0], indexes={"colour": lambda v: (v[1],)}, sorts={"id": lambda v: ()})
    for id, colour in {**items, **moves}.items():
        store.put((id, colour))
    got, cursor = [], None
    while True:
        page = store.list({"colour": "x"}, sort="-id", page_size=size, cursor=cursor)
        got += [v[0] for v in page.items]
        if not page.next_cursor:
            break
        cursor = page.next_cursor
    assert got == sorted((i for i, c in {**items, **moves}.items() if c == "x"), reverse=True)
