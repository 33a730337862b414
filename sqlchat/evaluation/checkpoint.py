"""A run's records kept on disk as they are made, so a long evaluation can stop and go on.

All of Spider dev takes hours on two CPU cores: longer than a working session, and a run that
prints its JSON only at the end loses everything when it is cut short. ``sqlchat eval --checkpoint
FILE.jsonl`` appends each scored row as one line; run the same command again and the rows already
in the file are taken from it, so only the rest are asked. Each line names its row's position and
question, so a checkpoint written for another file or another ``--limit`` is refused, not mixed in.
The report's wall time and peak memory are the last sitting's; each record keeps its own latency.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from sqlchat.errors import ConfigError

Record = dict[str, Any]  # one QuestionRecord as JSON: the runner turns it back into its dataclass


class Checkpoint:
    """Scored rows by position: what a resumed run reuses, and where each new row is appended."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._done: dict[int, tuple[str, list[dict[str, Any]]]] = {}
        if self.path.exists():
            self._load()

    def _load(self) -> None:
        try:
            lines = self.path.read_text(encoding="utf-8").splitlines()
        except OSError as error:
            raise ConfigError(f"The checkpoint {self.path} could not be read.", detail=str(error)) from error
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                item = json.loads(line)
                self._done[int(item["position"])] = (str(item["key"]), list(item["records"]))
            except (ValueError, KeyError, TypeError) as error:
                if number == len(lines):  # a line cut off when the run was killed: ask that row again
                    continue
                raise ConfigError(f"Line {number} of the checkpoint {self.path} is not a checkpoint line.",
                                  detail=str(error)) from error

    def __len__(self) -> int:
        return len(self._done)

    def all_records(self) -> list[Record]:
        """Every stored record, in the order of the rows: what ``--replay`` scores again."""
        return [record for position in sorted(self._done) for record in self._done[position][1]]

    def records(self, position: int, key: str) -> list[Record] | None:
        """The stored records of the row at ``position``, or None when it has not been scored yet.
        ``key`` (the row's question) must be the one stored there."""
        stored = self._done.get(position)
        if stored is None:
            return None
        if stored[0] != key:
            raise ConfigError(
                f"The checkpoint {self.path} was written for other questions (another file or --limit): "
                f"row {position + 1} there is {stored[0][:80]!r}. Use a new checkpoint file.")
        return stored[1]

    def add(self, position: int, key: str, records: list[Record]) -> None:
        """Append one scored row and push it to disk, so a kill loses at most the row being asked."""
        line = json.dumps({"position": position, "key": key, "records": records})
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a", encoding="utf-8") as handle:
                handle.write(line + "\n")
                handle.flush()
                os.fsync(handle.fileno())
        except OSError as error:
            raise ConfigError(f"The checkpoint {self.path} could not be written: the rows scored so far are in it; "
                              "run again with a writable file.", detail=str(error)) from error
        self._done[position] = (key, records)
