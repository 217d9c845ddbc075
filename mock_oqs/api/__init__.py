"""The HTTP edge of the mock service (FastAPI): dependencies, the error envelope, the
middleware and the routers per area; :func:`mock_oqs.app.create_app` puts them together.
Laid out as the FastAPI full-stack template does (``api/deps.py``, ``api/routes/``)."""
