"""Excel as a source: budgets and plans kept in .xlsx workbooks (docs/connectors/excel.md).

`path` names a workbook, a folder of them or a glob; every run reads each file whole:
- `budgets`: the Budgets sheet -> budget versions and lines (`budgets`);
- `tasks`: the Plan sheet -> tasks with three-point estimates and percent complete (`plan`);
- `dependencies`: the Dependencies sheet -> task links (`plan`);
- `projects`: the project codes those sheets name (created only when this source is the
  `projects` authority; otherwise linked by `[[ledger.link_rules]]` or held as unmapped).

Each file is a full scope of each stream. The writer's change detection makes a changed
cell restate only its line and an unchanged file write nothing; what a file no longer lists
is reversed through the stream's deletions: the checkpoint (the connector kit's listing,
`connectors.kit.listing.group_token`) keeps, per file, the keys its last read listed, and a
key missing now is reported deleted. A file that is gone from the configured folder has all
its keys reversed. A file loads whole or not at all: one with any problem on any sheet (a bad
cell, a duplicate key, a missing column) is refused with every problem quarantined and keeps
its keys; a file that cannot be read is quarantined with one line and keeps its keys.

openpyxl is imported on the first read (`workbook`), never by this module.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any, ClassVar

from pmo_ledger.connectors.base import (
    Connector,
    ConnectorContext,
    ConnectorSettings,
    CursorKind,
    Page,
    ReadRequest,
    Sandbox,
    SandboxOptions,
    StreamSpec,
)
from pmo_ledger.connectors.errors import ConnectorConfigError
from pmo_ledger.connectors.excel.settings import ExcelSettings

__all__ = ["ExcelConnector", "ExcelSettings"]

_KEYS: CursorKind = "token"
#: Records per page.
PAGE_SIZE = 500
STREAMS: dict[str, StreamSpec] = {
    s.name: s
    for s in (
        StreamSpec("projects", _KEYS, "project", "<project code> as the sheets give it"),
        StreamSpec(
            "tasks",
            _KEYS,
            "task",
            "<file stem>/<Task ID> (Plan sheet)",
            after=("projects",),
        ),
        StreamSpec(
            "dependencies",
            _KEYS,
            "dependency",
            "<file stem>/<predecessor>-><successor>/<FS|SS|FF|SF> (Dependencies sheet)",
            after=("tasks",),
        ),
        StreamSpec(
            "budgets",
            _KEYS,
            "budget",
            "<file stem>/<project>/<version> (Budgets sheet); lines "
            "<version Id>/<cost type>[/<task>]/<YYYY-PP> or .../<from>..<to>@<YYYY-PP>",
            after=("projects", "tasks"),
        ),
    )
}


class ExcelConnector(Connector):
    """Budgets and plans from workbooks; see the module docstring and `ExcelSettings`."""

    kind: ClassVar[str] = "excel"
    settings_model = ExcelSettings
    streams = STREAMS
    example_settings: ClassVar[dict[str, Any]] = {"path": "budgets"}

    def __init__(self, settings: ConnectorSettings, context: ConnectorContext) -> None:
        if not isinstance(settings, ExcelSettings):
            raise ConnectorConfigError(f"{context.name}: expected ExcelSettings")
        super().__init__(settings, context)
        self.config = settings
        self._books: dict[tuple[str, int, int], Any] = {}
        #: Per file, the workbook read and every stream's read of it (`read.file_reads`).
        self.reads: dict[Path, tuple[Any, dict[str, Any]]] = {}

    def for_file(self, path: Path) -> ExcelConnector:
        """The same connector reading one workbook only (`pmo-ledger import`): the keys the
        other files listed stay in the checkpoint untouched."""
        settings = self.config.model_copy(update={"path": str(path.resolve())})
        return ExcelConnector(settings, self.context)

    @classmethod
    def sandbox(cls, options: SandboxOptions | None = None) -> AbstractContextManager[Sandbox]:
        """A folder holding the sample budgets and plan workbooks (`connectors.excel.sample`),
        made in a temporary directory; imported here only."""
        from pmo_ledger.connectors.excel.sample import sample_folder

        return sample_folder(options or SandboxOptions())

    def check(self) -> None:
        """Raises SourceError when `path` matches no workbook."""
        from pmo_ledger.connectors.excel.workbook import workbook_files

        workbook_files(self.config.path, self.config.pattern)

    def extract(self, stream: str, request: ReadRequest) -> Iterator[Page]:
        """Every file's records of `stream` in one full scope, with the deletions of what the
        files no longer list; the last page carries the new checkpoint. Raises
        ConnectorConfigError for an unknown stream or a re-sync scope (a file is read whole),
        SourceError when `path` matches no workbook."""
        if stream not in self.streams:
            known = ", ".join(self.streams)
            raise ConnectorConfigError(f"excel has no stream {stream!r} (streams: {known})")
        if request.scope is not None and request.scope != stream:
            raise ConnectorConfigError(
                f"stream {stream} cannot re-sync scope {request.scope}: a workbook is read whole"
            )
        from pmo_ledger.connectors.excel.read import read_stream
        from pmo_ledger.connectors.kit.listing import group_token, remembered_groups
        from pmo_ledger.connectors.kit.pages import scoped, unordered

        pages, listed = read_stream(self, stream, remembered_groups(request.checkpoint))
        return scoped(stream, unordered(pages, group_token(listed)))

    def book(self, path: Path) -> Any:
        """The workbook at `path`, read once per connector while the file is unchanged (the
        streams of one run share it). Raises WorkbookError for a file that cannot be read."""
        from pmo_ledger.connectors.excel.workbook import WorkbookError, read_workbook

        try:
            stat = path.stat()
        except OSError as exc:
            raise WorkbookError(f"{path.name}: cannot be read ({exc.strerror or exc})") from None
        key = (str(path), stat.st_mtime_ns, stat.st_size)
        if key not in self._books:
            c = self.config
            sheets = (c.budgets_sheet, c.plan_sheet, c.dependencies_sheet)
            self._books = {key: read_workbook(path, sheets), **{
                k: v for k, v in self._books.items() if k[0] != str(path)
            }}  # fmt: skip
        return self._books[key]
