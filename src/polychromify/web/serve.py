"""`polychromify serve`: the web app under uvicorn, in one or more worker processes."""

from __future__ import annotations

import json
import os
from pathlib import Path

import uvicorn

from polychromify.config import ServeJob
from polychromify.errors import PolychromifyError
from polychromify.precision import check_precision
from polychromify.runtime import set_thread_budget
from polychromify.web.app import MB, SETTINGS_ENV, Limits


def serve(job: ServeJob) -> None:
    """Serve the page and the API until interrupted. Each worker is a fresh process that builds the app from
    the settings put in $POLYCHROMIFY_SERVE (web.app.app_from_env)."""
    if job.workers < 1 or job.max_queue < 0 or job.body_timeout <= 0:
        raise PolychromifyError("--workers must be 1 or more, --max-queue 0 or more, --body-timeout over 0")
    models = {"default": "default"}
    for item in job.models:
        models[Path(item).name if item != "default" else "default"] = str(item)
    limits = Limits(
        max_upload_bytes=job.max_upload_mb * MB,
        max_pixels=job.max_pixels,
        max_queue=job.max_queue,
        body_seconds=job.body_timeout,
    )
    threads = set_thread_budget(job.threads, job.workers)  # each worker's share of the cores
    settings = {"models": models, "limits": vars(limits), "precision": check_precision(job.precision)}
    os.environ[SETTINGS_ENV] = json.dumps(settings | {"threads": threads})
    url = f"http://{job.host}:{job.port}{job.root_path}"
    print(f"serving on {url}  (models: {', '.join(models)}; workers: {job.workers})")
    uvicorn.run(
        "polychromify.web.app:app_from_env",
        factory=True,
        host=job.host,
        port=job.port,
        workers=job.workers,
        root_path=job.root_path,
        forwarded_allow_ips=job.forwarded_allow_ips,
        timeout_keep_alive=5,  # an idle kept-alive connection is closed after 5 s
        timeout_graceful_shutdown=10,  # on SIGTERM, requests still running get 10 s
        log_level="warning",
    )
