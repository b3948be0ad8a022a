"""Files: atomic saves, no silent overwrite, and .pt imports that never unpickle objects."""

import os
import stat

import pytest
import torch

from tests.hostile import _state_dict
from xor_tui.core.engine.activations import SpecError
from xor_tui.core.io.files import ReadError, SaveError, load_state_dict, read_regular, write_atomic
from xor_tui.core.io.scenario import ScenarioError, builtin, load, save
from xor_tui.core.session import Session


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path, monkeypatch):
    p = tmp_path / "keep.toml"
    save(builtin("case1"), p)
    before = p.read_text()

    def broken_fsync(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", broken_fsync)
    with pytest.raises(OSError):
        save(builtin("case2"), p, overwrite=True)
    assert p.read_text() == before
    assert sorted(f.name for f in tmp_path.iterdir()) == ["keep.toml"]


def test_write_atomic_refuses_to_clobber(tmp_path):
    p = tmp_path / "x.txt"
    write_atomic(p, "one")
    with pytest.raises(FileExistsError):
        write_atomic(p, "two")
    assert p.read_text() == "one"
    write_atomic(p, "two", overwrite=True)
    assert p.read_text() == "two"


def _student_state_dict(path, seed=4):
    torch.manual_seed(seed)
    hide, out = torch.nn.Linear(2, 2), torch.nn.Linear(2, 1)
    sd = {f"hide.{k}": v for k, v in hide.state_dict().items()}
    sd.update({f"out.{k}": v for k, v in out.state_dict().items()})
    torch.save(sd, path)
    return hide, out


def test_a_students_state_dict_imports_as_start_weights(tmp_path):
    hide, out = _student_state_dict(tmp_path / "w.pt")
    (tmp_path / "s.toml").write_text('name = "imported"\n[start]\nstate_dict = "w.pt"\n')
    rec = load(tmp_path / "s.toml").new_run().current
    assert torch.equal(rec.params[0][0][0], hide.weight.detach())
    assert torch.equal(rec.params[1][1][0], out.bias.detach())
    # and the same start as the seed it was made from
    seeded = Session.from_seed(4).record
    assert torch.equal(seeded.params[0][0], rec.params[0][0])
    s = Session.from_state_dict_file(str(tmp_path / "w.pt"))
    assert s.name == "w" and torch.equal(s.record.params[0][0], rec.params[0][0])


class _Evil:
    def __reduce__(self):
        return (os.system, ("touch PWNED",))


def test_a_pickle_with_objects_is_refused_and_nothing_runs(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    torch.save({"hidden.weight": _Evil()}, tmp_path / "evil.pt")
    with pytest.raises(SpecError, match="never unpickles arbitrary objects"):
        load_state_dict(tmp_path / "evil.pt")
    assert not (tmp_path / "PWNED").exists()
    (tmp_path / "s.toml").write_text('name = "e"\n[start]\nstate_dict = "evil.pt"\n')
    with pytest.raises(ScenarioError) as info:
        load(tmp_path / "s.toml")
    assert info.value.where == "start.state_dict"
    assert not (tmp_path / "PWNED").exists()


@pytest.mark.parametrize(
    "content,fragment",
    [
        (b"plain text, not torch", "not a PyTorch file"),
        (None, "expected a state_dict"),
        ("shape", "expected shape"),
        ("missing", "missing parameter"),
    ],
)
def test_other_bad_pt_files_get_a_message(tmp_path, content, fragment):
    p = tmp_path / "bad.pt"
    if isinstance(content, bytes):
        p.write_bytes(content)
    elif content is None:
        torch.save([torch.zeros(2)], p)
    elif content == "shape":
        torch.save(
            {
                "hidden.weight": torch.zeros(3, 2),
                "hidden.bias": torch.zeros(2),
                "output.weight": torch.zeros(1, 2),
                "output.bias": torch.zeros(1),
            },
            p,
        )
    else:
        torch.save({"hidden.weight": torch.zeros(2, 2)}, p)
    with pytest.raises(SpecError, match=fragment):
        Session.from_state_dict_file(str(p))


# ---------------------------------------------------------------- hostile targets and files


def test_new_files_follow_the_umask_and_replaced_files_keep_their_mode(tmp_path):
    old = os.umask(0o022)
    try:
        p = write_atomic(tmp_path / "new.csv", "x")
        assert stat.S_IMODE(os.stat(p).st_mode) == 0o644
        os.chmod(p, 0o600)
        write_atomic(p, "y", overwrite=True)
        assert stat.S_IMODE(os.stat(p).st_mode) == 0o600 and p.read_text() == "y"
    finally:
        os.umask(old)


def test_a_255_character_name_can_be_written(tmp_path):
    p = write_atomic(tmp_path / ("n" * 251 + ".csv"), "x")
    assert p.read_text() == "x" and len(p.name) == 255


def test_a_file_created_during_the_write_is_not_clobbered(tmp_path, monkeypatch):
    from xor_tui.core.io import files

    target = tmp_path / "late.csv"
    real = files._temporary

    def racing(*a, **k):  # someone creates the file after our check, before our final step
        target.write_text("theirs")
        return real(*a, **k)

    monkeypatch.setattr(files, "_temporary", racing)
    with pytest.raises(FileExistsError, match="late.csv: already exists"):
        write_atomic(target, "ours")
    assert target.read_text() == "theirs"
    assert [f.name for f in tmp_path.iterdir()] == ["late.csv"]


def test_special_targets_are_refused_even_with_overwrite(tmp_path):
    os.mkfifo(tmp_path / "fifo")
    os.symlink(tmp_path / "nowhere", tmp_path / "dangling")
    (tmp_path / "d").mkdir()
    for name, fragment in (("fifo", "FIFO"), ("dangling", "symbolic link"), ("d", "directory")):
        for overwrite in (False, True):
            with pytest.raises(SaveError, match=fragment):
                write_atomic(tmp_path / name, "x", overwrite=overwrite)
    assert not (tmp_path / "nowhere").exists()
    for bad, fragment in (("", "empty file name"), (f"{tmp_path}/x.csv/", "ends with a slash")):
        with pytest.raises(SaveError, match=fragment):
            write_atomic(bad, "x")
    with pytest.raises(SaveError, match="missing/x.csv: folder .*missing does not exist"):
        write_atomic(tmp_path / "missing" / "x.csv", "x")


def test_read_regular_refuses_fifos_and_devices_without_reading(tmp_path):
    os.mkfifo(tmp_path / "fifo")
    with pytest.raises(ReadError, match="fifo: is a FIFO"):
        read_regular(tmp_path / "fifo", 100)
    with pytest.raises(ReadError, match="/dev/zero: is a character device"):
        read_regular("/dev/zero", 100)
    (tmp_path / "big").write_bytes(b"x" * 101)
    with pytest.raises(ReadError, match="101 bytes; at most 100"):
        read_regular(tmp_path / "big", 100)


_sd = _state_dict  # a state dict of the right shapes, with ``over`` replacing entries


@pytest.mark.parametrize(
    "over,fragment",
    [
        ({"hidden.bias": torch.zeros(1).expand(5_000_000)}, "at most 2 dimensions and 16 values"),
        ({"hidden.weight": torch.zeros(2, 2).to_sparse()}, "sparse"),
        ({"hidden.bias": torch.zeros(2, dtype=torch.complex64)}, "dtype torch.complex64"),
        ({"hidden.bias": torch.zeros(2, dtype=torch.int32)}, "dtype torch.int32"),
        ({"hidden.bias": torch.zeros(2, device="meta")}, "device meta"),
        ({"hide.bias": torch.zeros(2)}, "both 'hidden.bias' and the source's name"),
    ],
)
def test_pt_tensors_are_checked_before_their_values_are_read(tmp_path, over, fragment):
    torch.save(_sd(**over), tmp_path / "w.pt")
    with pytest.raises(SpecError, match=fragment):
        load_state_dict(tmp_path / "w.pt")


def test_save_refuses_what_replay_would_refuse_and_writes_nothing(tmp_path):
    from xor_tui.core.engine.actions import SetLr

    for change, fragment in (
        (lambda sc: setattr(sc, "name", "   "), "name: must not be empty"),
        (lambda sc: setattr(sc, "name", "x" * 240), "name: text is 240 characters long"),
        (lambda sc: setattr(sc, "script", [SetLr(0, 0.01)] * 10_001), "script: expected at most 10000"),
    ):
        sc = builtin("case1")
        change(sc)
        with pytest.raises(ScenarioError, match=fragment) as info:
            save(sc, tmp_path / "s.toml")
        assert "\n" not in str(info.value)
        assert not (tmp_path / "s.toml").exists()
