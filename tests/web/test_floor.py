"""Floor screens: scan prompts swap in as fragments, wrong scans are refused on screen, pack, ship, blind count."""
from __future__ import annotations

from app.extensions import db as _db
from app.models.warehouse_ops import CountTask
from app.services import shipping
from tests.services.test_carriers import put_stock, released_floor

HX = {"HX-Request": "true"}


def test_a_picker_scans_bin_item_and_quantity_and_each_prompt_is_a_fragment(client, login_as, world):
    batch, = released_floor(world, [[("MUG", 2)]])
    login_as("warehouse")
    screen = client.get(f"/floor/pick/{batch.id}")
    assert screen.status_code == 200 and b"data-autofocus" in screen.data and b"Scan the bin" in screen.data
    wrong = client.post(f"/floor/pick/{batch.id}/scan", data={"code": "E0-1"}, headers=HX)
    assert wrong.status_code == 200 and b"Wrong bin" in wrong.data and b"<html" not in wrong.data
    assert b'id="prompt"' in wrong.data
    assert b"Scan the item" in client.post(f"/floor/pick/{batch.id}/scan", data={"code": "E1-1"}, headers=HX).data
    assert b"How many" in client.post(f"/floor/pick/{batch.id}/scan", data={"code": "MUG"}, headers=HX).data
    done = client.post(f"/floor/pick/{batch.id}/scan", data={"code": "2"}, headers=HX)
    assert b"Batch done" in done.data


def test_a_stale_line_is_refused_on_screen(client, login_as, world):
    batch, = released_floor(world, [[("MUG", 1)]])
    login_as("warehouse")
    response = client.post(f"/floor/pick/{batch.id}/scan", data={"code": "E1-1", "task_id": "999"}, headers=HX)
    assert response.status_code == 200 and b"no longer the next one" in response.data


def test_scanning_a_batch_number_opens_it_and_an_unknown_one_is_named(client, login_as, world):
    batch, = released_floor(world, [[("MUG", 1)]])
    login_as("warehouse")
    assert client.get(f"/floor/pick?code={batch.number.lower()}").headers["Location"].endswith(f"/floor/pick/{batch.id}")
    assert b"No pick batch" in client.get("/floor/pick?code=NOPE", follow_redirects=True).data


def test_pack_and_ship_through_the_screens(client, login_as, world):
    from tests.services.test_carriers import pick_everything
    batch, = released_floor(world, [[("MUG", 1)]])
    pick_everything(batch)
    shipment = batch.tasks[0].shipment
    login_as("warehouse")
    assert client.post("/floor/pack/open", data={"code": shipment.number}).status_code == 302
    bench = client.get(f"/floor/pack/{shipment.id}")
    assert b"Carton 1" in bench.data and b"Scan each item" in bench.data
    refused = client.post(f"/floor/pack/{shipment.id}/scan", data={"code": "CAP"}, headers=HX)
    assert b"not needed" in refused.data
    package = shipping.packages_of(shipment)[0]
    changed = client.post(f"/floor/pack/{shipment.id}/box", data={"package_id": package.id, "box": "L"}, headers=HX)
    assert b"Carton 1 is now a Large carton" in changed.data
    unknown = client.post(f"/floor/pack/{shipment.id}/box", data={"package_id": package.id, "box": "NOPE"}, headers=HX)
    assert b"Choose a box from the list" in unknown.data
    assert b"Close and label" in client.post(f"/floor/pack/{shipment.id}/scan", data={"code": "MUG"}, headers=HX).data
    closed = client.post(f"/floor/pack/{shipment.id}/close", headers=HX)
    assert b"Packed and labelled" in closed.data and b"Print label" in closed.data
    assert client.post(f"/floor/ship/{shipment.id}").status_code == 302
    assert shipment.status == "shipped" and shipment.order.status == "shipped"
    page = client.get(f"/shipments/{shipment.id}")
    assert page.status_code == 200 and b"Packing slip" in page.data


def test_a_blind_count_never_shows_the_expected_quantity(client, login_as, world):
    from app.services.counts import create_count_tasks
    put_stock(world, "E1-1", "MUG", 17)
    task, = create_count_tasks(world.warehouses["EAST"].id, location_codes=["E1-1"])
    login_as("warehouse")
    form = client.get(f"/floor/counts/{task.id}")
    assert form.status_code == 200 and b"E1-1" in form.data and b"17" not in form.data
    bad = client.post(f"/floor/counts/{task.id}", data={f"sku-{world.skus['MUG'].id}": ""}, headers=HX)
    assert bad.status_code == 422 and b"Enter the units you counted" in bad.data
    ok = client.post(f"/floor/counts/{task.id}", data={f"sku-{world.skus['MUG'].id}": "17"})
    assert ok.status_code == 302 and _db.session.get(CountTask, task.id).status == "adjusted"


def test_retail_may_read_a_shipment_but_not_use_the_floor(client, login_as, world):
    batch, = released_floor(world, [[("MUG", 1)]])
    login_as("retail")
    assert client.get(f"/shipments/{batch.tasks[0].shipment_id}").status_code == 200
    assert client.get("/floor/pick").status_code == 403


def test_the_order_shipments_partial_links_each_shipment_and_its_documents(app, client, login_as, world):
    from flask import render_template
    from flask_login import login_user
    from tests.services.test_carriers import pick_everything
    from app.services import packing
    batch, = released_floor(world, [[("MUG", 1)]])
    pick_everything(batch)
    shipment = batch.tasks[0].shipment
    packing.start_packing(shipment.id)
    packing.scan_pack(shipment.id, "MUG")
    packing.complete_packing(shipment.id)
    user = login_as("retail")
    with app.test_request_context():
        login_user(user)
        html = render_template("shipments/_order_shipments.html", order=shipment.order)
    assert f"/shipments/{shipment.id}" in html and "Label" in html and "Packing slip" in html
