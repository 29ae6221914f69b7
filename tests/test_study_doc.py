"""The study document's generated claim list (``ltsweep.report.study_doc``): judged again from a
claims.csv's numbers under the current rules, in the unit it records, written between the
markers and nowhere else."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from ltsweep.report import claims, stats
from ltsweep.report import differences as D
from ltsweep.report.study_doc import BEGIN, END, main
from tests.common.hand_runs import DIGITS, SHAPES, SHAPES_ADAM
from tests.common.hand_runs import pairs as _pairs
from tests.common.hand_runs import runs as _runs

DOC = f"# Fashion study\n\nTables above.\n\n{BEGIN}\nhand-written list\n{END}\n\nAfter.\n"


def _claims_csv(tmp_path: Path, runs: list[dict] | pd.DataFrame, scale: float = 100.0) -> Path:
    frame = runs if isinstance(runs, pd.DataFrame) else stats.add_labels(pd.DataFrame(runs))
    _, table = claims.claim_lines(D.paired_differences(frame, scale))
    path = tmp_path / "claims.csv"
    table.to_csv(path, index=False)
    return path


def test_claims_csv_is_judged_again_under_the_given_margin(tmp_path: Path) -> None:
    runs = _pairs(("transferred", DIGITS), ("same", SHAPES), SHAPES, [-53.2, -40.6])  # 2 seeds
    runs += _pairs(("transferred", SHAPES), ("same", SHAPES_ADAM), SHAPES_ADAM, [-0.3, -0.9, -0.6])
    csv = _claims_csv(tmp_path, runs)
    doc = tmp_path / "fashion.md"
    doc.write_text(DOC)
    assert main([str(csv), str(doc), "--margin-points", "2"]) == 0
    text = doc.read_text()
    assert text.startswith("# Fashion study\n\nTables above.\n\n" + BEGIN), text
    assert text.endswith(END + "\n\nAfter.\n") and "hand-written list" not in text, text
    section = text.split(BEGIN)[1].split(END)[0]
    own = next(line for line in section.splitlines() if "another dataset do as well" in line)
    assert "inconclusive in all 1" in own and "−46.9: inconclusive (2 seeds)" in own, own
    opt = next(line for line in section.splitlines() if "between optimizers" in line)
    assert "holds in 1, contradicted in 0, inconclusive in 0 of 1" in opt, opt
    assert "above −2 points, the margin" in opt and "−2 points (the margin)" in section
    assert section.count("\n- **") == len(claims.CLAIMS), section
    assert main([str(csv), str(doc), "--margin-points", "0"]) == 0, "a margin of 0 is allowed"
    assert "above −0 points, the margin" in doc.read_text(), "--margin-points 0 was ignored"


def test_the_document_reads_as_the_report_whatever_the_store_scale(tmp_path: Path) -> None:
    """A store in percent: the report and the document say the same, in points."""
    percent = _runs()
    for col in (stats.VALUE,):
        percent[col] = percent[col] * 100
    lines, _ = claims.claim_lines(D.paired_differences(percent, scale=1.0))
    csv = _claims_csv(tmp_path, percent, scale=1.0)
    doc = tmp_path / "fashion.md"
    doc.write_text(DOC)
    assert main([str(csv), str(doc), "--margin-points", "1"]) == 0
    section = doc.read_text().split(BEGIN)[1].split(END)[0]
    for line in lines:
        rest = line.split(": ", 1)[1]
        assert rest in section, f"the document differs from the report on: {line}"


def test_a_claims_csv_without_its_unit_is_refused(tmp_path: Path, capsys) -> None:
    csv = _claims_csv(tmp_path, _runs())
    pd.read_csv(csv).drop(columns=["unit"]).to_csv(csv, index=False)
    doc = tmp_path / "fashion.md"
    doc.write_text(DOC)
    assert main([str(csv), str(doc)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "unit" in err and "ltsweep report" in err, err
    assert doc.read_text() == DOC, "a refused claims.csv changed the document"


def test_margin_comes_from_the_report(tmp_path: Path) -> None:
    csv = _claims_csv(tmp_path, _runs())
    table = pd.read_csv(csv)
    table.loc[table.test == stats.NON_INFERIORITY, "margin_points"] = 3.0
    table.to_csv(csv, index=False)
    doc = tmp_path / "fashion.md"
    doc.write_text(DOC)
    assert main([str(csv), str(doc)]) == 0
    assert "above −3 points, the margin" in doc.read_text()


def test_a_document_without_markers_is_refused_whole(tmp_path: Path, capsys) -> None:
    csv = _claims_csv(tmp_path, _runs())
    doc = tmp_path / "fashion.md"
    doc.write_text("# no markers\n")
    assert main([str(csv), str(doc)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and BEGIN in err, err
    assert doc.read_text() == "# no markers\n", "a refused document was changed"
