"""The control plane: users, projects, API keys, and the management API over them.

One folder per feature (``users/``, ``projects/``, ``api_keys/``), each with
``schemas.py`` (API shapes), ``store.py`` (SQL in the metadata store), ``service.py``
(rules) and ``routes.py`` (HTTP). ``plane.py`` wires them from the settings;
``app.py`` builds the FastAPI app; ``cli.py`` offers the same operations on the
command line, talking to the metadata store directly.
"""

from dbify.control.app import create_management_app
from dbify.control.plane import ControlPlane, open_control_plane
from dbify.control.projects.directory import StoreProjectDirectory

__all__ = ["ControlPlane", "StoreProjectDirectory", "create_management_app", "open_control_plane"]
