"""docs/KPIS.md lists every registered KPI, written from the same definitions the code uses."""
from __future__ import annotations

from pathlib import Path

from app.domain.kpis import DEFINITIONS
from app.services import kpis

ROOT = Path(__file__).resolve().parents[2]


def test_every_defined_kpi_has_a_measure_and_its_records():
    assert [k.code for k in kpis.registry()] == [d.code for d in DEFINITIONS]


def test_the_kpi_document_is_current_and_names_every_registered_kpi():
    text = (ROOT / kpis.KPI_DOCUMENT).read_text(encoding="utf-8")
    assert text == kpis.kpi_document(), ("docs/KPIS.md is stale: regenerate it with "
                                         "`.venv/bin/python -c \"from app.services.kpis import write_kpi_document; "
                                         "write_kpi_document()\"`")
    for k in kpis.registry():
        assert f"`{k.code}`" in text and k.definition.formula in text
