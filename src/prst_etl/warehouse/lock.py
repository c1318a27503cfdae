"""The writer's lock: one process writes a warehouse at a time; readers never wait."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

from prst_etl.errors import WarehouseBusy
from prst_etl.warehouse.util import _now, _user


class _FileLock:
    """An exclusive, non-blocking lock on a file, released by the OS if the process dies."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fh: Any = None

    def acquire(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fh = open(self.path, "a+")
        try:
            if sys.platform == "win32":
                import msvcrt

                fh.seek(0)
                msvcrt.locking(fh.fileno(), msvcrt.LK_NBLCK, 1)
            else:
                import fcntl

                fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            fh.seek(0)
            holder = fh.read().strip()
            fh.close()
            raise WarehouseBusy(
                f"L'entrepôt « {self.path.parent} » est en cours d'utilisation par un autre processus prst"
                + (f" ({holder})" if holder else "")
                + ".",
                hint="Attendez la fin de l'autre commande puis relancez celle-ci. Rien n'a été modifié.",
            ) from None
        fh.seek(0)
        fh.truncate()
        fh.write(f"pid {os.getpid()}, {_user()}, depuis {_now():%Y-%m-%d %H:%M:%S} UTC")
        fh.flush()
        self._fh = fh

    def release(self) -> None:
        if self._fh is None:
            return
        try:
            self._fh.seek(0)
            self._fh.truncate()
            if sys.platform == "win32":
                import msvcrt

                msvcrt.locking(self._fh.fileno(), msvcrt.LK_UNLCK, 1)
            else:
                import fcntl

                fcntl.flock(self._fh.fileno(), fcntl.LOCK_UN)
        finally:
            self._fh.close()
            self._fh = None
