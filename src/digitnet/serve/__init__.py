"""The draw-a-digit web app: ``digitnet serve`` (FastAPI + a static page)."""

from .app import create_app

__all__ = ["create_app"]
