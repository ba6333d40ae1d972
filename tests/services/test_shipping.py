"""Packing, labels and ship confirm: cartons, carrier choice, the printed label's barcodes, outages, the ledger."""
from __future__ import annotations

import subprocess
from decimal import Decimal

import pytest

from app.domain import gs1
from app.domain.errors import Conflict, ValidationError
from app.domain.inventory import Status
from app.extensions import db as _db
from app.models import Event
from app.models.warehouse_ops import LabelRequest, Package, ShipmentDocument
from app.services import carriers, ledger, packing, shipping
from app.services.waves import local_today
from tests.services.test_carriers import pick_everything, released_floor
from tests.unit.test_barcodes import needs_tools, scanned


def _packed(world, lines, *, scan=True):
    batch, = released_floor(world, [lines])
    pick_everything(batch)
    shipment = batch.tasks[0].shipment
    packing.start_packing(shipment.id)
    if scan:
        for line in shipment.lines:
            for _ in range(line.qty):
                assert packing.scan_pack(shipment.id, line.sku.gtin or line.sku.code).ok
    return shipment


def test_cartonization_proposes_the_cheapest_boxes_and_scans_fill_them(world):
    shipment = _packed(world, [("MUG", 2)], scan=False)
    package, = shipping.packages_of(shipment)
    assert package.proposed_box.code == "MAIL" and package.planned == {"MUG": 2}
    assert packing.scan_pack(shipment.id, "MUG").ok
    refused = packing.scan_pack(shipment.id, "CAP")
    assert not refused.ok and "not needed" in refused.message
    with pytest.raises(ValidationError, match="1 × MUG"):
        packing.complete_packing(shipment.id)


def test_the_packer_can_override_the_proposed_carton(world):
    shipment = _packed(world, [("MUG", 1)])
    package, = shipping.packages_of(shipment)
    packing.change_box(package.id, "L")
    assert package.box_type.code == "L" and package.proposed_box.code == "MAIL"
    with pytest.raises(ValidationError):
        packing.change_box(package.id, "NOPE")


def test_packing_chooses_the_cheapest_service_that_keeps_the_promise_and_labels_each_carton(world):
    shipment = _packed(world, [("MUG", 2)])
    packing.complete_packing(shipment.id)
    assert shipment.status == "packed"
    package, = shipping.packages_of(shipment)
    assert package.weight_kg == Decimal("0.620")  # two 0.3 kg items in a 0.02 kg mailer
    zone = carriers.zone_for(shipment.warehouse_id, "GB", "LS1 4AP")
    today = local_today(shipment.warehouse)
    every = carriers.quotes(shipment.warehouse_id, zone, package.weight_kg, today, shipment.order.promised_ship_date)
    keeping = [q for q in every if q.meets_promise] or every
    assert (shipment.carrier, shipment.shipping_cost) == (keeping[0].carrier, min(q.price for q in keeping))
    assert shipment.tracking_number == package.tracking_number != ""
    assert gs1.is_valid_sscc(package.sscc) and package.sscc[1:8] == "5060123"
    kinds = sorted(d.kind for d in shipping.shipment_documents(shipment.id))
    assert kinds == ["label", "packing_slip"]


@needs_tools
def test_the_printed_label_scans_tracking_then_the_sscc_lowest_with_a_right_check_digit(world, tmp_path):
    shipment = _packed(world, [("CAP", 1)])
    packing.complete_packing(shipment.id)
    label = next(d for d in shipping.shipment_documents(shipment.id) if d.kind == "label")
    (tmp_path / "label.pdf").write_bytes(label.data)
    subprocess.run(["pdftoppm", "-r", "300", "-png", "-singlefile", tmp_path / "label.pdf", tmp_path / "label"], check=True)
    found = scanned(str(tmp_path / "label.png"))
    package, = shipping.packages_of(shipment)
    assert ("CODE-128", "", package.tracking_number) in found
    sscc = [data for kind, mods, data in found if mods == "GS1"]
    assert sscc == ["00" + package.sscc]
    body = package.sscc[:-1]
    assert int(package.sscc[-1]) == gs1.check_digit(body)
    width, height = _page_inches(tmp_path / "label.pdf")
    assert (width, height) == (4.0, 6.0)
    assert _lowest_barcode(tmp_path / "label.png") == "00" + package.sscc


def _page_inches(pdf) -> tuple[float, float]:
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True).stdout
    size = next(line for line in info.splitlines() if line.startswith("Page size"))
    w, h = size.split(":")[1].split("pts")[0].split("x")
    return round(float(w) / 72, 2), round(float(h) / 72, 2)


def _lowest_barcode(png) -> str:
    """What zbarimg reads in the bottom third of the label: only the lowest barcode is there."""
    from PIL import Image
    image = Image.open(png)
    bottom = image.crop((0, image.height * 2 // 3, image.width, image.height))
    bottom.save(str(png).replace(".png", "-bottom.png"))
    found = scanned(str(png).replace(".png", "-bottom.png"))
    assert len(found) == 1, found
    return found[0][2]


def test_ship_confirm_moves_picked_stock_to_the_customer_and_ships_the_order(world):
    shipment = _packed(world, [("MUG", 2), ("CAP", 1)])
    packing.complete_packing(shipment.id)
    order = shipment.order
    assert order.status == "in_fulfillment"
    shipping.ship_shipment(shipment.id)
    assert shipment.status == "shipped" and shipment.shipped_at is not None
    assert order.status == "shipped"
    assert all(line.qty_shipped == line.qty and line.qty_allocated == 0 for line in order.lines)
    mug, bin_ = world.skus["MUG"].id, world.bins["E1-1"].id
    assert ledger.balance(mug, bin_, Status.PICKED) == 0 and ledger.balance(mug, bin_, Status.AVAILABLE) == 48
    assert _db.session.query(Event).filter_by(type="shipment.shipped", subject_id=shipment.number).count() == 1
    from app.services.integrity import ledger_problems
    assert ledger_problems() == []
    with pytest.raises(Conflict):
        shipping.ship_shipment(shipment.id)


def test_an_order_with_units_still_waiting_is_not_shipped_with_its_first_shipment(world):
    from app.services.picking import current_task, scan_pick
    batch, = released_floor(world, [[("MUG", 3)]])
    scan_pick(batch.id, "E1-1", user_id=None)
    scan_pick(batch.id, "MUG", user_id=None)
    scan_pick(batch.id, "2", user_id=None)
    assert current_task(batch) is None
    shipment = batch.tasks[0].shipment
    packing.start_packing(shipment.id)
    packing.scan_pack(shipment.id, "MUG")
    packing.scan_pack(shipment.id, "MUG")
    packing.complete_packing(shipment.id)
    shipping.ship_shipment(shipment.id)
    order = shipment.order
    assert order.lines[0].qty_shipped == 2 and order.lines[0].qty_waiting == 1
    assert order.status in ("backordered", "partially_allocated")


class _DownCarrier:
    def __init__(self, carrier):
        self.carrier = carrier

    def quote(self, service, zone, weight_kg):
        return carriers.rate_for(service.id, zone, weight_kg)

    def create_label(self, request):
        raise carriers.CarrierUnavailable("carrier API timed out")


def test_a_carrier_outage_queues_the_label_and_a_retry_labels_it_later(world, monkeypatch):
    shipment = _packed(world, [("MUG", 1)])
    monkeypatch.setitem(carriers.GATEWAYS, "table", _DownCarrier)
    packing.complete_packing(shipment.id)
    assert shipment.status == "packed" and shipment.tracking_number == ""
    pending = shipping.label_pending(shipment)
    assert pending is not None and pending.attempts == 1 and "timed out" in pending.last_error
    with pytest.raises(Conflict, match="label"):
        shipping.ship_shipment(shipment.id)
    assert shipping.retry_label_requests(force=True) == {"labelled": 0, "waiting": 1}
    assert pending.attempts == 2
    monkeypatch.setitem(carriers.GATEWAYS, "table", carriers.TableCarrier)
    assert shipping.retry_label_requests(pending.next_attempt_at) == {"labelled": 1, "waiting": 0}
    assert _db.session.get(LabelRequest, pending.id).status == "done" and shipment.tracking_number
    assert any(d.kind == "label" for d in shipping.shipment_documents(shipment.id))
    shipping.ship_shipment(shipment.id)
    assert shipment.status == "shipped"


def test_a_gateway_that_crashes_counts_as_an_outage(world, monkeypatch):
    class Broken(_DownCarrier):
        def create_label(self, request):
            raise OSError("connection reset")
    shipment = _packed(world, [("MUG", 1)])
    monkeypatch.setitem(carriers.GATEWAYS, "table", Broken)
    packing.complete_packing(shipment.id)
    assert "connection reset" in shipping.label_pending(shipment).last_error
    assert _db.session.query(ShipmentDocument).filter_by(kind="label").count() == 0
    assert _db.session.query(Package).one().tracking_number == ""
