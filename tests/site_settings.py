"""The site's settings loaded as a start-up loads them: in a fresh interpreter, from the
environment given (on top of this one's), with its files under a directory of the test's."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from django.conf import settings

from flows.engine.connections import is_cluster_url

READ_A_SETTING = "from django.conf import settings; settings.REDIS_URL"


def site_environment(var_dir: Path, **variables: str) -> dict[str, str]:
    """This process's environment with these variables, for the site under `var_dir`. A site
    on a cluster keeps its channel layer where this process's is, unless told otherwise."""
    if is_cluster_url(variables.get("REDIS_URL", "")):
        variables = {"CHANNEL_LAYER_REDIS_URL": settings.CHANNEL_LAYER_REDIS_URL, **variables}
    return dict(
        os.environ,
        **variables,
        FLOWSITE_VAR_DIR=str(var_dir),
        DJANGO_SETTINGS_MODULE="flowsite.settings",
    )


def load_site_settings(var_dir: Path, **variables: str) -> subprocess.CompletedProcess[str]:
    environment = site_environment(var_dir, **variables)
    return subprocess.run(
        [sys.executable, "-c", READ_A_SETTING], capture_output=True, text=True, env=environment
    )
