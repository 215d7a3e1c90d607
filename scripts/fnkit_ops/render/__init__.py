"""`fnkit render`: the SAM project (template, Dockerfile, events, samconfig, CI) from the registry."""

from fnkit_ops.render.files import INDEX_FILE, RenderConflictError, Rendered
from fnkit_ops.render.project import model_list, render_project

__all__ = ["INDEX_FILE", "RenderConflictError", "Rendered", "model_list", "render_project"]
