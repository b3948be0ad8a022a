"""The Files policy (core/io/folder.py): what a page of `xor-tui serve` may reach, and what
every user gets for a path the operating system refuses. Through the session's door
(open_path, Session.save_as, Session.save_screen) as the app uses it, and the CLI's."""

from __future__ import annotations

import os

import pytest

from xor_tui.cli.main import main
from xor_tui.core.engine.activations import SpecError
from xor_tui.core.io.folder import Files, Refused, parse_size
from xor_tui.core.io.scenario import ScenarioError, builtin, save
from xor_tui.core.session import Session, open_path

from .hostile import _state_dict as _sd


def _state_dict(path) -> None:
    import torch

    torch.save(_sd(), path)

OUT_SCENARIO = 'name = "outside"\n[start]\nseed = 3\n'


@pytest.fixture
def world(tmp_path, monkeypatch):
    """A served folder ``root`` (the current folder, as for a served app) and a folder
    ``out`` beside it holding a scenario and a state_dict; symbolic links from root to out."""
    root, out = tmp_path / "root", tmp_path / "out"
    root.mkdir()
    out.mkdir()
    (out / "secret.toml").write_text(OUT_SCENARIO)
    _state_dict(out / "w.pt")
    (root / "mine.toml").write_text('name = "mine"\n[start]\nseed = 5\n')
    (root / "sub").mkdir()
    (root / "sub" / "deep.toml").write_text('name = "deep"\n[start]\nseed = 6\n')
    os.symlink(out, root / "away")  # a folder link leading out
    os.symlink(out / "secret.toml", root / "link.toml")  # a file link leading out
    os.symlink(root / "mine.toml", root / "alias.toml")  # a link that stays inside
    monkeypatch.chdir(root)
    return root, out


OUTSIDE_READS = {
    "absolute": ("{out}/secret.toml", "absolute path"),
    "dotdot": ("../out/secret.toml", "'..'"),
    "dotdot inside": ("sub/../mine.toml", "'..'"),
    "tilde": ("~/secret.toml", "home folder"),
    "folder link": ("away/secret.toml", "symbolic link"),
    "file link": ("link.toml", "symbolic link"),
    "nul": ("mi\x00ne.toml", "NUL byte"),
    "surrogate": ("mi\ud800ne.toml", "no file name can hold"),
}


@pytest.mark.parametrize("kind", OUTSIDE_READS)
def test_f_reads_nothing_outside_the_folder(world, kind):
    root, out = world
    text, why = OUTSIDE_READS[kind]
    files = Files(root)
    with pytest.raises(Refused) as err:
        open_path(text.format(out=out), files)
    message = str(err.value)
    assert why in message and "\n" not in message
    assert "outside" not in message.split(":")[-1] or kind == "tilde"  # the file's content is never quoted


@pytest.mark.parametrize("text", ["mine.toml", "sub/deep.toml", "alias.toml", " mine.toml ", "case3"])
def test_f_reads_inside_the_folder_and_built_ins(world, text):
    opened = open_path(text, Files(world[0]))
    assert opened.session is not None
    assert opened.session.name in ("mine", "deep", "case3")
    if text != "case3":
        assert not os.path.isabs(opened.file)  # relative to the folder: the server's own path is never shown


@pytest.mark.parametrize("kind", ["absolute", "dotdot", "folder link", "tilde", "nul"])
def test_w_writes_nothing_outside_the_folder(world, kind):
    root, out = world
    text = {
        "absolute": f"{out}/new.toml",
        "dotdot": "../out/new.toml",
        "folder link": "away/new.toml",
        "tilde": "~/new.toml",
        "nul": "new\x00.toml",
    }[kind]
    files = Files(root)
    with pytest.raises(Refused):
        files.writable(text)
    session = Session.from_seed(1)
    with pytest.raises(Refused):
        session.save_as(files, files.writable(text))
    assert sorted(p.name for p in out.iterdir()) == ["secret.toml", "w.pt"]


def test_w_refuses_a_link_as_its_target(world):
    root, out = world
    with pytest.raises(OSError, match="symbolic link"):
        Files(root).writable("link.toml")  # even one that stays inside: never replaced
    assert (out / "secret.toml").read_text() == OUT_SCENARIO


def test_a_state_dict_reference_stays_inside_the_folder(world):
    root, out = world
    for ref in (f"{out}/w.pt", "../out/w.pt", "away/w.pt"):
        (root / "ref.toml").write_text(f'name = "ref"\n[start]\nstate_dict = "{ref}"\n')
        with pytest.raises(ScenarioError, match="start.state_dict") as err:
            open_path("ref.toml", Files(root))
        assert "refused" in str(err.value)
    _state_dict(root / "w.pt")
    (root / "ref.toml").write_text('name = "ref"\n[start]\nstate_dict = "w.pt"\n')
    assert open_path("ref.toml", Files(root)).session.name == "ref"
    # without a folder (the app in a terminal) the reference may lead anywhere, as before
    (root / "ref.toml").write_text(f'name = "ref"\n[start]\nstate_dict = "{out}/w.pt"\n')
    assert open_path("ref.toml", Files()).session.name == "ref"


def test_without_a_folder_any_path_as_before(world):
    root, out = world
    assert open_path(str(out / "secret.toml"), Files()).session.name == "outside"
    assert open_path("../out/secret.toml", Files()).session.name == "outside"


def test_read_only_writes_nothing(world):
    root, _ = world
    files = Files(root, read_only=True)
    with pytest.raises(Refused, match="read-only"):
        files.writable("new.toml")
    with pytest.raises(Refused, match="read-only"):
        Session.from_seed(1).save_screen(files, "<svg/>", None)
    assert not (root / "new.toml").exists() and not list(root.glob("*.svg"))


def test_the_quota_counts_every_byte_written_and_refuses_the_first_over(world):
    root, _ = world
    svg = "x" * 1000
    files = Files(root, quota=3000)
    session = Session.from_seed(1)
    for n in (1, 2, 3):  # exactly the quota: still written
        assert session.save_screen(files, svg, None).name == f"seed-1-epoch0-{n}.svg"
    assert files.written == 3000
    with pytest.raises(Refused, match=r"may write 3\.0 kB in all .* has written 3\.0 kB; .* needs 1 byte more") as err:
        session.save_screen(files, "y", None)  # one byte over
    assert "quota" in str(err.value) and "\n" not in str(err.value)
    assert len(list(root.glob("*.svg"))) == 3
    with pytest.raises(Refused, match="quota"):
        session.save_as(files, files.writable("s.toml"))
    assert not (root / "s.toml").exists()


def test_a_screenshot_of_a_session_from_outside_goes_into_the_folder(world):
    root, out = world
    files = Files(root)
    path = Session.from_seed(2).save_screen(files, "<svg/>", out / "secret.toml")
    assert (root / path).exists() and not list(out.glob("*.svg"))
    assert files.shown(path) == "seed-2-epoch0-1.svg"
    (root / "sub" / "x.toml").write_text("")  # a session from a file inside: next to it
    path = Session.from_seed(2).save_screen(files, "<svg/>", root / "sub" / "x.toml")
    assert files.shown(path) == "sub/seed-2-epoch0-1.svg"


def test_sizes():
    assert parse_size("50MB") == 50_000_000 and parse_size("800k") == 800_000 and parse_size("10") == 10
    for bad in ("", "MB", "-1", "1e99", "ten", "5 TB", "nan"):
        with pytest.raises(ValueError, match="expected a size"):
            parse_size(bad)


def test_a_path_with_a_nul_byte_is_one_line_everywhere(tmp_path, monkeypatch, capsys):
    bad = "x\x00.toml"  # Python raised ValueError for it, not OSError: tracebacks
    monkeypatch.chdir(tmp_path)
    save(builtin("case1"), tmp_path / "ok.toml")
    (tmp_path / "ref.toml").write_text(f'name = "r"\n[start]\nstate_dict = "{bad[:1]}\\u0000.pt"\n')
    for argv in (
        ["--scenario", bad],
        ["replay", bad],
        ["replay", "ok.toml", "--csv", bad],
        ["replay", "ref.toml"],
        ["snapshot", "case1", "-o", bad.replace(".toml", ".svg")],
        ["import", bad],
        ["--root", bad],
    ):
        assert main(argv) == 2, argv
        err = capsys.readouterr().err
        assert err.startswith("xor-tui: ") and err.count("\n") == 1, (argv, err)
        assert "Traceback" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ok.toml", "ref.toml"]


# ---------------------------------------------------------------- the app, under Pilot
SIZE = (120, 36)


async def _prompt_error(app) -> str:
    return str(app.screen.query_one("#error").content)


async def test_keys_typed_after_q_do_nothing(tmp_path, monkeypatch):
    from xor_tui.app.main import XorApp

    from .apphelp import burst

    monkeypatch.chdir(tmp_path)
    for keys in (("q", "i"), tuple("question")):  # 's' reseeds, 'i' saves the screen, 'n' runs on
        app = XorApp(seed=4)
        async with app.run_test(size=SIZE) as pilot:
            await burst(pilot, *keys)
            await pilot.pause()  # every key queued is handled (or dropped) before this returns
        assert app.leaving and app.session.name == "seed 4" and app.session.epoch == 0
        assert list(tmp_path.iterdir()) == []


async def test_a_served_app_in_its_folder(world):
    """f, w and i of an app confined as serve confines it: refusals are one line in the dialog,
    messages show paths relative to the folder, and the quota is said when reached."""
    from textual.widgets import Input

    from xor_tui.app.main import XorApp
    from xor_tui.app.screens.dialogs import PromptScreen

    from .apphelp import events, type_text

    root, out = world
    quota = 600_000
    app = XorApp(seed=4, files=Files(root, quota=quota))
    async with app.run_test(size=SIZE) as pilot:
        for key, text, why in (
            ("f", f"{out}/secret.toml", "absolute path"),
            ("f", "../out/secret.toml", "'..'"),
            ("f", "link.toml", "symbolic link"),
            ("f", "mi\x00ne.toml", "NUL byte"),
            ("w", "away/new.toml", "symbolic link"),
            ("w", "../new.toml", "'..'"),
        ):
            await pilot.press(key)
            if "\x00" in text:  # no key types it; a paste can
                app.screen.query_one(Input).value = text
            else:
                await type_text(pilot, text)
            await pilot.press("enter")
            assert isinstance(app.screen, PromptScreen), (key, text)
            error = await _prompt_error(app)
            assert why in error and "\n" not in error, (key, text, error)
            await pilot.press("escape")
        await pilot.press("f")
        await type_text(pilot, "sub/deep.toml")
        await pilot.press("enter")
        assert app.session.name == "deep"
        await pilot.press("i")
        assert "Saved the screen as sub/deep-epoch0-1.svg." in events(app)
        assert str(root) not in events(app)  # the server's own folder is never said
        for _ in range(30):  # an SVG of this screen is 100-200 kB: the quota is reached within a few
            await pilot.press("i")
            if "Screen not saved" in events(app):
                break
        assert "the server's quota" in events(app) and "600.0 kB" in events(app)
    assert sorted(p.name for p in out.iterdir()) == ["secret.toml", "w.pt"]
    sizes = [p.stat().st_size for p in (root / "sub").glob("*.svg")]
    assert len(sizes) >= 2 and sum(sizes) <= quota
    assert quota - sum(sizes) < 2 * max(sizes)  # refused only when the next one would not fit


async def test_read_only_says_so_when_w_or_i_is_pressed(world):
    from xor_tui.app.main import XorApp

    from .apphelp import events

    root, _ = world
    app = XorApp(seed=4, files=Files(root, read_only=True))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("w")
        assert app.screen is app.main and "read-only" in events(app)  # no dialog
        await pilot.press("i")
        assert "Screen not saved: this server is read-only" in events(app)
    assert sorted(p.name for p in root.iterdir()) == ["alias.toml", "away", "link.toml", "mine.toml", "sub"]


def test_any_path_built_of_hostile_parts_is_refused_or_inside(world):
    """2,000 paths made of parts that lead out ('..', '/', '~', links, NUL) and parts that stay:
    each is refused, or names a file whose real place is inside the folder."""
    import random

    root, out = world
    files = Files(root)
    parts = ["..", ".", "", "sub", "away", "alias.toml", "link.toml", "mine.toml", "~", "/", "x\x00", "/etc", "//"]
    rng = random.Random(20)
    outcomes = {"refused": 0, "inside": 0}
    for _ in range(2000):
        text = "/".join(rng.choice(parts) for _ in range(rng.randint(1, 4)))
        for reading in (True, False):
            try:
                path = files.readable(text) if reading else files.path(text)
            except Refused:
                outcomes["refused"] += 1
                continue
            # reading: the file itself; writing: the folder it goes in (a link as the name
            # itself is never replaced: check_target, tested above)
            real = os.path.realpath(root / path if reading else (root / path).parent)
            assert real == str(root) or real.startswith(str(root) + os.sep), (reading, text, real)
            outcomes["inside"] += 1
    assert outcomes["refused"] > 1000 and outcomes["inside"] > 200, outcomes


# ---------------------------------------------------------------- a name swapped after its check


@pytest.fixture
def raced(world, monkeypatch):
    """The served process confined to root, and the policy's own path checks blinded, as when a
    second local user swaps a checked file or folder for a symbolic link just after the check:
    only the check on the opened file is left to refuse."""
    from xor_tui.core.io import files

    monkeypatch.setattr(files, "_CONFINED", os.path.realpath(world[0]))
    monkeypatch.setattr(Files, "_check_inside", lambda self, path, text: None)
    return world


@pytest.mark.parametrize("name", ["link.toml", "away/secret.toml", "away/w.pt"])
def test_a_file_that_leads_out_when_opened_is_refused_though_its_check_passed(raced, name):
    root, out = raced
    with pytest.raises((ScenarioError, SpecError, OSError)) as err:
        open_path(name, Files(root))
    assert "leads out of this server's folder" in str(err.value) and "\n" not in str(err.value)
    assert "outside" not in str(err.value).split("folder")[-1]  # nothing of the file is quoted


def test_a_folder_that_leads_out_when_written_is_refused_though_its_check_passed(raced):
    root, out = raced
    files = Files(root)
    with pytest.raises(OSError, match="leads out of this server's folder"):
        Session.from_seed(1).save_as(files, files.writable("away/new.toml"))
    with pytest.raises(OSError, match="leads out of this server's folder"):
        files.write_numbered("away", "shot", ".svg", "<svg/>")
    assert sorted(p.name for p in out.iterdir()) == ["secret.toml", "w.pt"]  # no file, no temporary one
    assert files.written == 0


def test_a_confined_process_still_reads_and_writes_inside_and_through_inside_links(raced):
    root, out = raced
    files = Files(root)
    assert open_path("alias.toml", files).session.name == "mine"
    Session.from_seed(1).save_as(files, files.writable("sub/new.toml"))
    assert open_path("sub/new.toml", files).session.name == "seed 1"
    assert sorted(p.name for p in (root / "sub").iterdir()) == ["deep.toml", "new.toml"]


@pytest.mark.parametrize("text", [".", "./", "sub/."])
def test_a_folder_typed_as_a_file_is_refused_as_a_folder(world, text):
    with pytest.raises(Refused, match="a folder, not a file"):
        Files(world[0]).readable(text)


def test_an_absolute_state_dict_path_is_refused_as_absolute(world):
    root, out = world
    (root / "ref.toml").write_text(f'name = "ref"\n[start]\nstate_dict = "{out}/w.pt"\n')
    with pytest.raises(ScenarioError, match="an absolute path outside this server's folder"):
        open_path("ref.toml", Files(root))
