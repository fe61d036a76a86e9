"""Reading the text files a user gives (label CSVs, sample and split lists, JSON labels).

Every such file is read as UTF-8, with or without a byte-order mark: spreadsheet
programs (Excel's "CSV UTF-8") write one, and left in place it would become part
of the first column's name. Any other encoding is refused with one line that names
the file, where its first undecodable byte is, and the fix, instead of Python's
``UnicodeDecodeError``, which names neither.
"""

from __future__ import annotations

from pathlib import Path

from synthact.errors import SynthActError


class TextEncodingError(SynthActError, ValueError):
    """An input text file is not UTF-8; the message names the file and the fix."""


def read_text(path: str | Path) -> str:
    """The text of ``path``, decoded as UTF-8 (a leading byte-order mark dropped).

    Raises:
        TextEncodingError: the bytes are not UTF-8.
        OSError: the file cannot be read (the caller names what it is).
    """
    data = Path(path).read_bytes()
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise TextEncodingError(
            f"{path}: line {line}: byte 0x{data[exc.start]:02x} is not UTF-8 text; "
            "re-save the file as UTF-8 (in a spreadsheet: 'CSV UTF-8')"
        ) from None
