"""Private files (keys, SSH config) over whatever is there: 0600, no links, no clobbering."""

from __future__ import annotations

import os
import stat
import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from denbi_jupyter.connect.keyfile import KeyFileExistsError, write_private_file
from denbi_jupyter.errors import UserInputError
from tests.hostile._budget import examples
from tests.hostile.test_names_hostile import HOSTILE_TEXT

_FILE_NAMES = st.one_of(
    st.sampled_from(["id_ed25519", "config", ".hidden", "a b", "x.pub", "-rf", "..."]),
    st.text(
        alphabet=st.characters(exclude_characters="/\0", codec="utf-8"), min_size=1, max_size=40
    ),
)


@settings(max_examples=examples(30))
@given(
    name=_FILE_NAMES,
    before=st.sampled_from(["nothing", "file", "link to a file", "dangling link", "folder"]),
    overwrite=st.booleans(),
    text=HOSTILE_TEXT,
    umask=st.sampled_from([0o000, 0o022, 0o077]),
)
def test_a_private_file_is_0600_never_follows_a_link_and_never_clobbers_silently(
    name: str, before: str, overwrite: bool, text: str, umask: int
) -> None:
    with tempfile.TemporaryDirectory() as folder:
        target = Path(folder) / name
        victim = Path(folder) / "victim-outside"
        victim.write_text("keep me", encoding="utf-8")
        try:
            if before == "file":
                target.write_text("old", encoding="utf-8")
            elif before == "link to a file":
                target.symlink_to(victim)
            elif before == "dangling link":
                target.symlink_to(Path(folder) / "nowhere")
            elif before == "folder":
                target.mkdir()
        except OSError:
            return  # the name cannot exist on this file system (e.g. too long, "...")
        previous = os.umask(umask)
        try:
            write_private_file(target, text, overwrite=overwrite)
        except KeyFileExistsError:
            assert before != "nothing" and not overwrite
            assert victim.read_text(encoding="utf-8") == "keep me"
            return
        except UserInputError as error:
            assert str(error) and victim.read_text(encoding="utf-8") == "keep me"
            return
        finally:
            os.umask(previous)
        assert before in ("nothing",) or overwrite
        info = target.lstat()
        assert stat.S_ISREG(info.st_mode) and stat.S_IMODE(info.st_mode) == 0o600
        assert target.read_bytes() == text.encode("utf-8", "surrogatepass")
        assert victim.read_text(encoding="utf-8") == "keep me"  # a link was replaced, not followed
        leftovers = [p.name for p in Path(folder).iterdir() if p.name.endswith(".tmp")]
        assert leftovers == []


def test_text_with_a_lone_surrogate_is_refused_and_nothing_is_written(tmp_path: Path) -> None:
    target = tmp_path / "vm1.x2go"
    with pytest.raises(UserInputError, match="session file holds text that is not valid Unicode"):
        write_private_file(target, "[vm\ud800]\nname=vm\ud800\n", what="session file")
    assert list(tmp_path.iterdir()) == []
