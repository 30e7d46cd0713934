"""The draw-a-digit web app: ``digitnet serve`` (FastAPI + a static page)."""

from .app import MODEL_ENV, app_from_environment, create_app

__all__ = ["MODEL_ENV", "app_from_environment", "create_app"]
