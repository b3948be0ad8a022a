"""`xor-tui snapshot`: the app rendered headless at an epoch, saved as SVG or PNG."""

from __future__ import annotations

import os
import shutil
import struct
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from xor_tui.cli.main import main

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
    assert "Training halted at epoch 98 (y says why):" in text  # then torch's message (it wraps)
    assert "elements of input should" in text
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


# ---------------------------------------------------------------- the app's screenshot key (i)


def saved_svgs(folder) -> list[str]:
    return sorted(p.name for p in Path(folder).iterdir() if p.suffix == ".svg")


def svg_status(path) -> str:
    return next(ln for ln in screen_lines(path) if ln.lstrip().startswith("epoch "))


async def test_the_screenshot_key_saves_next_to_the_scenario_file_and_never_overwrites(tmp_path, monkeypatch):
    from tests.apphelp import events
    from xor_tui.app.main import XorApp
    from xor_tui.core.io.scenario import builtin, load, save

    home, elsewhere = tmp_path / "lesson", tmp_path / "cwd"
    home.mkdir()
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    scenario_file = save(builtin("case3"), home / "mine.toml")
    taken = home / "case3-epoch1-1.svg"
    taken.write_text("kept")
    (home / "case3-epoch1-2.svg").symlink_to(home / "nowhere")  # a dangling link is a taken name too
    app = XorApp(scenario=load(str(scenario_file)), scenario_file=scenario_file)
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.press("space", "i")
        first = home / "case3-epoch1-3.svg"
        assert f"Saved the screen as {first}." in events(app)
        await pilot.press("i")
        assert f"Saved the screen as {home / 'case3-epoch1-4.svg'}." in events(app)
    assert taken.read_text() == "kept" and (home / "case3-epoch1-2.svg").is_symlink()
    assert "epoch 1" in svg_status(first) and "case 3" in svg_status(first)
    assert saved_svgs(elsewhere) == []


async def test_the_screenshot_key_follows_the_session(tmp_path, monkeypatch):
    """A built-in case saves in the current folder; after `w` the session lives in the saved
    file, so the screen goes next to it; loading a case again goes back to the current folder."""
    from tests.apphelp import events, type_text
    from xor_tui.app.main import XorApp

    monkeypatch.chdir(tmp_path)
    (tmp_path / "saved").mkdir()
    app = XorApp()
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.press("7", "space", "space", "i")
        assert saved_svgs(tmp_path) == ["case7-epoch2-1.svg"]
        assert f"Saved the screen as {tmp_path / 'case7-epoch2-1.svg'}." in events(app)  # where, in full
        await pilot.press("w")
        await type_text(pilot, "saved/lesson.toml")
        await pilot.press("enter", "i")
        assert saved_svgs(tmp_path / "saved") == ["case7-epoch2-1.svg"]
        await pilot.press("7", "i")
        assert saved_svgs(tmp_path) == ["case7-epoch0-1.svg", "case7-epoch2-1.svg"]


async def test_the_screenshot_key_reports_a_folder_that_went_away_in_one_line(tmp_path):
    from tests.apphelp import events
    from xor_tui.app.main import MainScreen, XorApp
    from xor_tui.core.io.scenario import builtin, load, save

    home = tmp_path / "gone"
    home.mkdir()
    scenario_file = save(builtin("case1"), home / "c.toml")
    app = XorApp(scenario=load(str(scenario_file)), scenario_file=scenario_file)
    async with app.run_test(size=(120, 36)) as pilot:
        scenario_file.unlink()
        home.rmdir()
        await pilot.press("i")
        text = events(app)
        assert text.startswith("Screen not saved: ") and "does not exist" in text.splitlines()[0], text
        assert isinstance(app.screen, MainScreen)
        await pilot.press("space")  # the app goes on
        assert app.session.epoch == 1
    assert not home.exists()


def test_keys_render_the_survey_screen(tmp_path, capsys):
    out = tmp_path / "survey.svg"
    assert main(["snapshot", "case1", "--keys", "v enter", "-o", str(out)]) == 0
    text = "\n".join(screen_lines(out))
    assert "Survey with the current settings" in text and "20,000 networks x 200 epochs" in text
    assert capsys.readouterr().out.strip().endswith("at epoch 0, after v enter, 120x36")


@pytest.mark.parametrize(
    "keys, says",
    [
        ("q", "--keys: q would quit the app before its screen is saved"),
        ("v <script>", "--keys: '<script>' is not a key name"),
        (" ".join(["space"] * 21), "--keys: at most 20 keys, got 21"),
    ],
)
def test_bad_keys_get_one_line_and_nothing_is_written(tmp_path, capsys, keys, says):
    out = tmp_path / "x.svg"
    assert main(["snapshot", "case1", "--keys", keys, "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and says in err and not out.exists()


def test_a_png_converter_that_hangs_is_one_line_and_leaves_nothing(tmp_path, monkeypatch, capsys):
    """A stand-in rsvg-convert that never finishes (it waits on a child): one line, no
    traceback, no file, and neither it nor its child is left running."""
    import os
    import stat

    from tests.servehelp import gone_within
    from xor_tui.cli import snapshot
    from xor_tui.cli.main import main

    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "rsvg-convert"
    fake.write_text(f'#!/bin/sh\necho $$ > {tmp_path}/pids\nsleep 600 &\necho $! >> {tmp_path}/pids\nwait\n')
    fake.chmod(fake.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setattr(snapshot, "CONVERT_TIMEOUT", 1.0)  # the hang guard, shortened; nothing timed
    assert main(["snapshot", "case1", "-o", str(tmp_path / "x.png")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("xor-tui: rsvg-convert") and "did not finish" in err and err.count("\n") == 1, err
    assert not (tmp_path / "x.png").exists()
    for pid in (tmp_path / "pids").read_text().split():
        assert gone_within(int(pid), 10), "the converter or its child is still running"
