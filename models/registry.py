"""A versioned on-disk model registry: skops files with their metrics and training window.

Layout: `{root}/{name}/{version}/model.skops` and `meta.json`, versions numbered 1, 2, ...
A version is written into a hidden folder and renamed into place, so a reader never sees half a
model. Services load `newest_good(name)`: a model whose metrics failed its acceptance gate is
kept (as `rejected`, with the numbers that failed) but never served.

Files are read with `skops.io.load` and an explicit list of trusted types: a model file that
names any other type is refused instead of executed, unlike a pickle. Each model kind brings a
`Codec` that turns the model into plain data (dicts, lists, numbers, arrays, scikit-learn
estimators) and back, so the trusted list stays short and reviewable.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
import os
import shutil
import tempfile
import zipfile
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from pathlib import Path
from typing import Any, Generic, TypeVar

from core.errors import NotFoundError
from models.errors import ModelError

MODEL_FILE = "model.skops"
META_FILE = "meta.json"
META_FORMAT = 1
_T = TypeVar("_T")


class RegistryError(ModelError):
    """A model that cannot be registered, found or read."""


class ModelNotFoundError(RegistryError, NotFoundError):
    """No such model name or version in the registry."""


class UntrustedModelError(RegistryError):
    """A model file names types outside the trusted list; it is not loaded."""


class ModelStatus(StrEnum):
    """Whether a registered version may be served."""

    GOOD = "good"
    REJECTED = "rejected"


class Better(StrEnum):
    """Which direction of a metric is an improvement."""

    LOWER = "lower"
    HIGHER = "higher"


@dataclass(frozen=True, slots=True)
class Metric:
    """One held-out metric with its baseline and whether it passed the acceptance gate."""

    value: float
    baseline: float | None
    better: Better = Better.LOWER
    passed: bool = True
    note: str = ""

    def to_json(self) -> dict[str, object]:
        """The metric as JSON (NaN becomes null)."""
        return {
            "value": _finite(self.value),
            "baseline": None if self.baseline is None else _finite(self.baseline),
            "better": self.better.value,
            "passed": self.passed,
            "note": self.note,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Metric:
        """The metric from its JSON form."""
        value = data.get("value")
        baseline = data.get("baseline")
        return cls(
            value=float("nan") if value is None else float(value),
            baseline=None if baseline is None else float(baseline),
            better=Better(data.get("better", Better.LOWER)),
            passed=bool(data.get("passed", True)),
            note=str(data.get("note", "")),
        )


def _finite(value: float) -> float | None:
    """`value`, or None when it is NaN or infinite (JSON has neither)."""
    return value if math.isfinite(value) else None


@dataclass(frozen=True, slots=True)
class ModelMeta:
    """What `meta.json` says about one registered version."""

    name: str
    version: int
    created_at: dt.datetime
    window_start: dt.date
    window_end: dt.date
    status: ModelStatus
    metrics: dict[str, Metric] = field(default_factory=dict)
    data: dict[str, Any] = field(default_factory=dict)
    reason: str = ""
    sha256: str = ""

    def to_json(self) -> dict[str, object]:
        """The document written as `meta.json`."""
        return {
            "format": META_FORMAT,
            "name": self.name,
            "version": self.version,
            "created_at": self.created_at.astimezone(dt.UTC).isoformat(),
            "training_window": {
                "start": self.window_start.isoformat(),
                "end": self.window_end.isoformat(),
            },
            "status": self.status.value,
            "reason": self.reason,
            "metrics": {k: m.to_json() for k, m in self.metrics.items()},
            "data": self.data,
            "sha256": self.sha256,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ModelMeta:
        """Parse `meta.json`; RegistryError when it is not one of ours."""
        try:
            found = data["format"]
            if isinstance(found, int) and found > META_FORMAT:
                raise RegistryError(
                    f"meta.json format {found} is newer than this release reads (formats up to "
                    f"{META_FORMAT}): it was written by a newer release; run that release"
                )
            if found != META_FORMAT:
                raise RegistryError(f"meta.json format {found!r} is not {META_FORMAT}")
            window = data["training_window"]
            return cls(
                name=str(data["name"]),
                version=int(data["version"]),
                created_at=dt.datetime.fromisoformat(data["created_at"]),
                window_start=dt.date.fromisoformat(window["start"]),
                window_end=dt.date.fromisoformat(window["end"]),
                status=ModelStatus(data["status"]),
                metrics={k: Metric.from_json(v) for k, v in data.get("metrics", {}).items()},
                data=dict(data.get("data", {})),
                reason=str(data.get("reason", "")),
                sha256=str(data.get("sha256", "")),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise RegistryError(f"unreadable meta.json ({exc!r})") from exc


@dataclass(frozen=True, slots=True)
class Codec(Generic[_T]):
    """How one kind of model becomes skops-safe plain data and back, and what it may contain."""

    encode: Callable[[_T], Any]
    decode: Callable[[Any], _T]
    trusted: tuple[str, ...]


def dump_state(state: Any, path: Path) -> str:
    """Write `state` with skops; return the file's SHA-256."""
    from skops.io import dump  # loads scikit-learn: only when a model is written

    # Arrays of daily weather compress about tenfold.
    dump(state, path, compression=zipfile.ZIP_DEFLATED)
    return hashlib.sha256(path.read_bytes()).hexdigest()


def load_state(path: Path, trusted: tuple[str, ...]) -> Any:
    """Read a skops file, refusing any type that is neither skops' default nor in `trusted`."""
    # skops loads scikit-learn: imported when a model is read, not when the registry is listed.
    from skops.io import get_untrusted_types, load
    from skops.io.exceptions import UntrustedTypesFoundException

    try:
        return load(path, trusted=list(trusted))
    except UntrustedTypesFoundException as exc:
        try:
            extra = sorted(set(get_untrusted_types(file=path)) - set(trusted))
        except Exception:  # the refusal is what matters; naming the types is a courtesy
            extra = []
        names = ", ".join(extra) or str(exc)
        raise UntrustedModelError(f"{path}: refused untrusted type(s): {names}") from exc
    except FileNotFoundError as exc:
        raise ModelNotFoundError(f"{path}: no model file") from exc
    except Exception as exc:  # skops raises many kinds on a damaged or foreign file
        raise RegistryError(f"{path}: not a readable model file ({exc!r})") from exc


def _utcnow() -> dt.datetime:
    """The current time in UTC."""
    return dt.datetime.now(dt.UTC)


class ModelRegistry:
    """Versioned models under one root folder; see the module docstring for the layout."""

    def __init__(self, root: Path, clock: Callable[[], dt.datetime] = _utcnow) -> None:
        """Keep models under `root` (created on first registration); `clock` stamps them."""
        self.root = root
        self._clock = clock

    @classmethod
    def for_tenant(cls, data_dir: Path, tenant: str) -> ModelRegistry:
        """The registry of one tenant: `{data_dir}/models/{tenant}`.

        A model carries what it was trained on (the harvest model keeps its fields' weather
        for analog years), so each tenant's models are kept and served apart.
        """
        if not tenant or "/" in tenant or tenant.startswith("."):
            raise RegistryError(f"tenant {tenant!r} cannot name a folder")
        return cls(data_dir.expanduser() / "models" / tenant)

    def register(
        self,
        name: str,
        model: _T,
        codec: Codec[_T],
        *,
        window: tuple[dt.date, dt.date],
        metrics: Mapping[str, Metric],
        data: Mapping[str, Any] | None = None,
        reason: str = "",
    ) -> ModelMeta:
        """Store a new version; it is `good` only if every metric passed its gate."""
        if not name or "/" in name or name.startswith("."):
            raise RegistryError(f"model name {name!r} cannot name a folder")
        failed = [k for k, m in metrics.items() if not m.passed]
        status = ModelStatus.GOOD if not failed and not reason else ModelStatus.REJECTED
        if failed and not reason:
            reason = "failed acceptance gate: " + ", ".join(failed)
        draft = ModelMeta(
            name=name,
            version=0,
            created_at=self._clock(),
            window_start=window[0],
            window_end=window[1],
            status=status,
            metrics=dict(metrics),
            data=dict(data or {}),
            reason=reason,
        )
        state = codec.encode(model)
        base = self.root / name
        try:
            base.mkdir(parents=True, exist_ok=True)
            staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=base))
            # mkdtemp makes the folder private; a service running as another user reads it.
            staging.chmod(0o755)
        except OSError as exc:
            raise RegistryError(f"{base}: cannot write ({exc})") from exc
        try:
            return self._publish(staging, draft, state)
        except (OSError, TypeError, ValueError) as exc:
            raise RegistryError(f"{base}: cannot register {name} ({exc!r})") from exc
        finally:
            if staging.exists():
                shutil.rmtree(staging, ignore_errors=True)

    def _publish(self, staging: Path, draft: ModelMeta, state: Any) -> ModelMeta:
        """Write the files into `staging` and rename it to the next free version number."""
        digest = dump_state(state, staging / MODEL_FILE)
        # The rename fails if another trainer took the same number meanwhile: take the next.
        for _attempt in range(100):
            meta = replace(draft, version=self._next_version(draft.name), sha256=digest)
            _write_json(staging / META_FILE, meta.to_json())
            try:
                os.rename(staging, self.root / draft.name / str(meta.version))
            except OSError:
                continue
            return meta
        raise RegistryError(f"{self.root / draft.name}: could not claim a version number")

    def _next_version(self, name: str) -> int:
        """One above the highest version folder of `name`."""
        return max((v for v, _ in self._version_dirs(name)), default=0) + 1

    def _version_dirs(self, name: str) -> Iterator[tuple[int, Path]]:
        """(version, folder) of every published version of `name`."""
        base = self.root / name
        if not base.is_dir():
            return
        for entry in base.iterdir():
            if entry.is_dir() and entry.name.isdigit():
                yield int(entry.name), entry

    def names(self) -> list[str]:
        """Model names with at least one folder, sorted."""
        if not self.root.is_dir():
            return []
        return sorted(p.name for p in self.root.iterdir() if p.is_dir() and p.name[0] != ".")

    def versions(self, name: str | None = None) -> list[ModelMeta]:
        """Readable versions of one model (or of all), newest first within each name."""
        out: list[ModelMeta] = []
        for each in [name] if name is not None else self.names():
            metas = []
            for version, folder in self._version_dirs(each):
                try:
                    meta = self.meta(each, version, folder)
                except RegistryError:
                    continue  # a damaged version is skipped, never served
                metas.append(meta)
            out += sorted(metas, key=lambda m: m.version, reverse=True)
        return out

    def meta(self, name: str, version: int, folder: Path | None = None) -> ModelMeta:
        """The metadata of one version."""
        path = (folder or self.root / name / str(version)) / META_FILE
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError as exc:
            raise ModelNotFoundError(f"no version {version} of model {name!r}") from exc
        except (OSError, ValueError) as exc:
            raise RegistryError(f"{path}: unreadable ({exc})") from exc
        meta = ModelMeta.from_json(document)
        if meta.name != name or meta.version != version:
            raise RegistryError(f"{path}: says {meta.name} v{meta.version}")
        return meta

    def newest_good(self, name: str) -> ModelMeta | None:
        """The newest version of `name` that passed its gate, or None."""
        return next((m for m in self.versions(name) if m.status is ModelStatus.GOOD), None)

    def path(self, meta: ModelMeta) -> Path:
        """The model file of a version."""
        return self.root / meta.name / str(meta.version) / MODEL_FILE

    def load(self, meta: ModelMeta, codec: Codec[_T]) -> _T:
        """The model of a version, after checking its digest and every type it names."""
        path = self.path(meta)
        try:
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
        except FileNotFoundError as exc:
            raise ModelNotFoundError(f"{path}: no model file") from exc
        if meta.sha256 and digest != meta.sha256:
            raise RegistryError(f"{path}: contents differ from the registered digest")
        return codec.decode(load_state(path, codec.trusted))


def _write_json(path: Path, document: Mapping[str, object]) -> None:
    """Write a JSON document and flush it to disk."""
    with path.open("w", encoding="utf-8") as handle:
        json.dump(document, handle, indent=2, ensure_ascii=False, allow_nan=False)
        handle.write("\n")
        handle.flush()
        os.fsync(handle.fileno())
