"""Write the English word list that the text reader restores lost spaces with (``captioner/resources``).

    .venv/bin/python -m tools.make_word_list [--deb wbritish.deb --deb wamerican.deb]

The words are SCOWL's, as Debian's ``wbritish`` and ``wamerican`` packages ship them (``/usr/share/dict``; both
spellings, since signs use either): lower-cased, letters only, possessives left out. Without ``--deb`` the two
packages are fetched with ``apt-get download`` (nothing is installed). Their copyright file, which the licence asks
to travel with the list, is written beside it.
"""

from __future__ import annotations

import argparse
import gzip
import subprocess
import tarfile
import tempfile
from pathlib import Path

from captioner.reading.spacing import WORD_LIST_FILE

PACKAGES = ("wbritish", "wamerican")
LISTS = ("./usr/share/dict/british-english", "./usr/share/dict/american-english")
COPYRIGHT = "./usr/share/doc/wbritish/copyright"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deb", type=Path, action="append", help="a wbritish or wamerican .deb at hand")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as scratch:
        debs = args.deb or fetch_debs(Path(scratch))
        members = {name: text for deb in debs for name, text in deb_members(deb, (*LISTS, COPYRIGHT)).items()}
    words = sorted({w.lower() for name in LISTS for w in members[name].split() if w.isalpha() and w.isascii()})
    with gzip.open(WORD_LIST_FILE, "wt", encoding="utf-8", compresslevel=9) as file:
        file.write("\n".join(words) + "\n")
    WORD_LIST_FILE.with_name("english_words.copyright").write_text(members[COPYRIGHT])
    print(f"wrote {WORD_LIST_FILE} ({len(words)} words, {WORD_LIST_FILE.stat().st_size / 1e3:.0f} kB)")


def fetch_debs(folder: Path) -> list[Path]:
    subprocess.run(["apt-get", "download", *PACKAGES], cwd=folder, check=True, capture_output=True)
    return sorted(folder.glob("*.deb"))


def deb_members(deb: Path, wanted: tuple[str, ...]) -> dict[str, str]:
    """The text of the files ``wanted`` that ``deb``'s data archive holds (``dpkg-deb --fsys-tarfile``)."""
    archive = subprocess.run(["dpkg-deb", "--fsys-tarfile", str(deb)], check=True, capture_output=True).stdout
    with tempfile.TemporaryFile() as file:
        file.write(archive)
        file.seek(0)
        with tarfile.open(fileobj=file) as tar:
            return {m.name: tar.extractfile(m).read().decode("utf-8", "replace")
                    for m in tar.getmembers() if m.name in wanted and m.isfile()}


if __name__ == "__main__":
    main()
