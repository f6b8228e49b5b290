"""reelforge as a service: REST API, job queue (embedded or Celery/Redis), live progress, HLS, web UI.

Nothing here imports FastAPI or Celery at import time; ``pip install 'reelforge[service]'`` provides them.
"""
