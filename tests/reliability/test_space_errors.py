"""A full disk is recognised however the writer reports it, and named with the file it hit.

The stage tests (``test_disk_full*.py``) fill real file systems; these pin the forms
that a real disk produces only by chance: HDF5's flush failure raised by h5py as a
``RuntimeError``, and a later error that hides the first (zipfile closing a file whose
write failed).
"""

from __future__ import annotations

import errno

from synthact.errors import describe_os_error, space_error

HDF5_FLUSH = (
    "Unable to synchronously flush file (file write failed: time = Mon Dec  7 21:00:00 2026, filename = "
    "'x.h5', file descriptor = 5, errno = 28, error message = 'No space left on device', buf = 0x1, "
    "total write size = 4096, bytes this sub-write = 4096, bytes actually written = 18446744073709551615, offset = 0)"
)
ADVICE = (
    "no space left on device while writing; nothing half-written was kept "
    "(free space, then rerun: finished work is reused)"
)


def test_hdf5_flush_failure_raised_as_runtime_error_is_a_full_disk():
    found = space_error(RuntimeError(HDF5_FLUSH))
    assert found is not None and found[1] == errno.ENOSPC
    assert describe_os_error(found[0], "output/shards/s.h5") == f"output/shards/s.h5: {ADVICE}"


def test_a_later_error_does_not_hide_the_full_disk():
    try:
        try:
            raise OSError(errno.ENOSPC, "No space left on device")
        except OSError:
            raise ValueError("seek of closed file")  # noqa: B904  the masking, as zipfile does it
    except ValueError as masked:
        found = space_error(masked)
    assert found is not None and found[1] == errno.ENOSPC


def test_other_errors_are_not_taken_for_a_full_disk():
    assert space_error(ValueError("seek of closed file")) is None
    assert space_error(OSError(errno.EACCES, "Permission denied", "x")) is None
