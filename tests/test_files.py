"""Files: atomic saves, no silent overwrite, and .pt imports that never unpickle objects."""

import os

import pytest
import torch

from xor_tui.core.activations import SpecError
from xor_tui.core.files import load_state_dict, write_atomic
from xor_tui.core.scenario import ScenarioError, builtin, load, save
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
