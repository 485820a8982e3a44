"""The web page and JSON API (FastAPI); it only calls the inference module."""
