import dataclasses

from server.store import OrderStatus, Store
from tests.store import factories as make


async def test_order_reads_back_by_client_order_id(store: Store) -> None:
    record = make.order("s-c1-B-0", price="41000.10")
    await store.upsert_order(record)
    assert await store.get_order("s-c1-B-0") == record
    assert await store.get_order("missing") is None


async def test_upsert_replaces_the_order_with_the_same_client_order_id(store: Store) -> None:
    await store.upsert_order(make.order("s-c1-B-0"))
    accepted = dataclasses.replace(
        make.order("s-c1-B-0"), order_id="77", status=OrderStatus.FILLED, updated_at_ms=make.T0_MS + 9
    )
    await store.upsert_order(accepted)
    assert await store.get_order("s-c1-B-0") == accepted
    assert len(await store.list_orders(accepted.session_id)) == 1


async def test_orders_list_per_session_oldest_first_and_by_status(store: Store) -> None:
    await store.upsert_order(make.order("c", created_at_ms=make.T0_MS + 2))
    await store.upsert_order(make.order("a", created_at_ms=make.T0_MS + 1, status="FILLED"))
    await store.upsert_order(make.order("b", created_at_ms=make.T0_MS + 1))
    await store.upsert_order(make.order("z", session_id="other"))
    listed = await store.list_orders(make.order("x").session_id)
    assert [o.client_order_id for o in listed] == ["a", "b", "c"]
    open_orders = await store.list_orders(make.order("x").session_id, status="NEW")
    assert [o.client_order_id for o in open_orders] == ["b", "c"]
