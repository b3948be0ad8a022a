"""`xor-tui snapshot`: the app rendered headless at an epoch, saved as SVG or PNG."""

from __future__ import annotations

import os
import shutil
import struct
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from xor_tui.cli import main

SVG = "{http://www.w3.org/2000/svg}"


def screen_lines(svg_path) -> list[str]:
    """The text of a Textual SVG screenshot, one string per screen row."""
    rows: dict[float, list[tuple[float, str]]] = {}
    for t in ET.parse(svg_path).getroot().iter(f"{SVG}text"):
        if t.get("y") is not None and t.get("x") is not None:
            rows.setdefault(float(t.get("y")), []).append((float(t.get("x")), "".join(t.itertext())))
    return ["".join(s for _, s in sorted(v)).replace("\xa0", " ") for _, v in sorted(rows.items())]


def png_size(path) -> tuple[int, int]:
    data = Path(path).read_bytes()[:24]
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG file"
    return struct.unpack(">II", data[16:24])


@pytest.fixture(scope="module")
def halt_svg(tmp_path_factory):
    path = tmp_path_factory.mktemp("snap") / "x.svg"
    assert main(["snapshot", "case7", "--epoch", "98", "-o", str(path)]) == 0
    return path


def test_svg_shows_the_halt_screen(halt_svg):
    lines = screen_lines(halt_svg)
    text = "\n".join(lines)
    status = next(ln for ln in lines if ln.lstrip().startswith("epoch "))
    assert "epoch 98" in status and "HALTED" in status, status
    assert "Training halted at epoch 98" in text
    assert "Training halted at epoch 98: all elements of" in text  # torch's message (it wraps)
    assert "h[1] DEAD" in text  # the dead hidden unit, as the app draws it


def test_the_loss_chart_spans_the_scenarios_epochs_not_the_epoch_asked_for(halt_svg):
    """As in the app: case 7 has 200 epochs, so its chart at the halt (98) still ends at 200."""
    axis = next(ln for ln in screen_lines(halt_svg) if "└0" in ln)
    assert "98" in axis and axis.rstrip().rstrip("│").endswith("200"), axis


def test_never_overwrites_without_force(halt_svg, capsys):
    before = halt_svg.read_bytes()
    assert main(["snapshot", "case7", "--epoch", "3", "-o", str(halt_svg)]) == 2
    assert "already exists" in capsys.readouterr().err
    assert halt_svg.read_bytes() == before
    assert main(["snapshot", "case7", "--epoch", "3", "-o", str(halt_svg), "--force"]) == 0
    status = next(ln for ln in screen_lines(halt_svg) if ln.lstrip().startswith("epoch "))
    assert "epoch 3" in status and "HALTED" not in status


def test_png_is_the_same_screen_as_an_image(tmp_path):
    if shutil.which("rsvg-convert") is None:
        if os.environ.get("CI"):
            pytest.fail("rsvg-convert is missing; .ci/run installs librsvg2-bin")
        pytest.skip("rsvg-convert (Debian: librsvg2-bin) is not installed")
    png = tmp_path / "x.png"
    assert main(["snapshot", "case7", "--epoch", "98", "-o", str(png)]) == 0
    w, h = png_size(png)
    # 120x36 cells: Textual's SVG is about 12.2 px a column and 24.4 px a row, plus its frame
    assert 1400 <= w <= 1600 and 850 <= h <= 1000, (w, h)
    assert os.path.getsize(png) > 50_000  # a drawn screen, not an empty canvas


@pytest.mark.parametrize(
    "argv, words",
    [
        (["case7", "-o", "x.jpg"], ".svg or .png"),
        (["case7", "--size", "5x5", "-o", "x.svg"], "--size"),
        (["case7", "--size", "wide", "-o", "x.svg"], "--size"),
        (["case7", "--epoch", "-1", "-o", "x.svg"], "--epoch"),
        (["nope", "-o", "x.svg"], "nope"),
        (["case7", "-o", "no/such/dir/x.svg"], "no such directory"),
    ],
)
def test_bad_input_is_one_message_and_no_file(argv, words, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["snapshot", *argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith("xor-tui: ") and words in err, err
    assert list(tmp_path.iterdir()) == []
