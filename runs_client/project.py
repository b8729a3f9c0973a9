"""``Project``: a typed, read-only view of one W&B project."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

import runs_gql
from runs_gql import ProjectFields

from ._exceptions import NotFoundError
from .transport.flows import Flow, Steps, call, iterate, run
from .transport.page_guard import PageGuard

__all__ = [
    "Project",
    "fetch_project",
    "iter_projects",
    "project_flow",
    "project_pages",
]

PROJECTS_PER_PAGE = 100


class Project:
    """A project, as the ``ProjectFields`` fragment returns it."""

    id: str
    name: str
    entity: str
    created_at: datetime | None
    read_only: bool | None
    total_sweeps: int

    def __init__(self, fields: ProjectFields) -> None:
        self.id = fields.id
        self.name = fields.name
        self.entity = fields.entity_name
        self.created_at = fields.created_at
        self.read_only = fields.read_only
        self.total_sweeps = fields.total_sweeps

    @property
    def path(self) -> list[str]:
        """``[entity, project]``."""
        return [self.entity, self.name]

    def __repr__(self) -> str:
        return f"<Project {self.entity}/{self.name}>"


def project_pages(entity: str) -> Steps[Project]:
    """Every project of ``entity`` the caller may read, a page at a time (a
    flow: ``iterate`` or ``aiterate`` sends its requests).

    Raises:
        NotFoundError: the server knows no entity to list (none was given and
            the viewer has none).
    """
    guard = PageGuard(f"project pager for {entity}", PROJECTS_PER_PAGE, noun="projects")
    cursor: str | None = None
    while True:
        result: runs_gql.Projects = yield call(
            "projects", entity=entity, cursor=cursor, per_page=PROJECTS_PER_PAGE
        )
        if result.models is None:
            raise NotFoundError(f"Entity {entity} has no projects to list.")
        nodes = [edge.node for edge in result.models.edges if edge.node is not None]
        page = result.models.page_info
        fresh = guard.admit(
            [node.id for node in nodes],
            has_next=page.has_next_page,
            end_cursor=page.end_cursor,
        )
        for node, new in zip(nodes, fresh, strict=True):
            if new:
                yield Project(node)
        if not page.has_next_page:
            return
        cursor = page.end_cursor


def iter_projects(client: runs_gql.Client, entity: str) -> Iterator[Project]:
    """Every project of ``entity`` the caller may read, a page at a time."""
    return iterate(client, project_pages(entity))


def project_flow(entity: str, name: str) -> Flow[Project]:
    """One project by name.

    Raises:
        NotFoundError: no such project (or one the caller may not read).
    """
    result: runs_gql.ProjectByName = yield call(
        "project_by_name", entity=entity, name=name
    )
    if result.project is None:
        raise NotFoundError(f"Project {entity}/{name} not found.")
    return Project(result.project)


def fetch_project(client: runs_gql.Client, entity: str, name: str) -> Project:
    """One project by name (see ``project_flow``)."""
    return run(client, project_flow(entity, name))
