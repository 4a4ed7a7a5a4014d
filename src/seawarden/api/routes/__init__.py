"""One router per resource; :func:`seawarden.api.app.create_app` mounts them under /api."""
