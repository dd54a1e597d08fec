"""Git plumbing for ``tracebit-pack review``: find the base commit and materialise it.

Works on a local checkout and on the shallow clone CI makes: when the base ref or the history
down to the merge base is missing, it fetches what it needs from ``origin`` (the base branch,
then ``--deepen`` steps, then ``--unshallow``) and raises a one-line UserError if it cannot.
"""

from __future__ import annotations

import io
import re
import subprocess
import tarfile
from dataclasses import dataclass
from pathlib import Path

from tracebit_pack.errors import UserError

DEEPEN_STEPS = (50, 200, 1000)
# A revision: a branch, tag, remote branch or commit, optionally with ~N / ^N. Never a refspec
# (``a:b``, ``+a``), an option (``-x``), a range (``a..b``) or a reflog expression (``@{...}``).
_REVISION = re.compile(r"(?!.*\.\.)(?!.*//)[A-Za-z0-9][A-Za-z0-9._/-]*(?:[~^][0-9]*)*")


def git(repo: Path, *args: str, check: bool = True, binary: bool = False) -> subprocess.CompletedProcess:
    """Run git in ``repo``; with ``check`` a failure becomes a UserError with git's own message."""
    try:
        proc = subprocess.run(
            ["git", "-C", str(repo), *args], capture_output=True, text=not binary, check=False
        )
    except FileNotFoundError:
        raise UserError("git is not installed (tracebit-pack review needs it)") from None
    if check and proc.returncode != 0:
        stderr = proc.stderr.decode(errors="replace") if binary else proc.stderr
        lines = [line for line in stderr.strip().splitlines() if line.strip()]
        raise UserError(f"git {args[0]} failed: {lines[-1] if lines else 'exit ' + str(proc.returncode)}")
    return proc


@dataclass(frozen=True)
class BaseRef:
    ref: str  # as given by the user
    tip: str  # the commit the ref names
    commit: str  # the commit compared against: the merge base with HEAD, or the tip
    merge_base: bool  # commit is the merge base of ref and HEAD
    note: str | None = None  # why the comparison is not against the merge base, if it is not
    head: str = ""  # HEAD commit of the working tree
    dirty: bool = False  # the working tree has uncommitted changes under the pack's folders

    @property
    def short(self) -> str:
        return self.commit[:10]


def repo_root(start: Path) -> Path:
    proc = git(start, "rev-parse", "--show-toplevel", check=False)
    if proc.returncode != 0:
        raise UserError(f"{start} is not inside a git repository (review compares against git history)")
    return Path(proc.stdout.strip())


def check_revision(ref: str) -> str:
    """``ref`` if it names a revision (see ``_REVISION``); else a one-line UserError."""
    if not _REVISION.fullmatch(ref) or ref.endswith((".", "/", ".lock")):
        raise UserError(
            f"invalid base ref {ref!r}: give a branch, tag or commit (no ':', '+', leading '-', '..')"
        )
    return ref


def _commit_of(repo: Path, ref: str) -> str | None:
    proc = git(repo, "rev-parse", "--verify", "--quiet", "--end-of-options", f"{ref}^{{commit}}", check=False)
    return proc.stdout.strip() if proc.returncode == 0 else None


def _is_shallow(repo: Path) -> bool:
    return git(repo, "rev-parse", "--is-shallow-repository", check=False).stdout.strip() == "true"


def _remotes(repo: Path) -> list[str]:
    return git(repo, "remote", check=False).stdout.split()


def _fetch_ref(repo: Path, ref: str) -> str | None:
    """Fetch ``ref`` (``origin/main``, ``main``, a tag or a sha) from its remote; return the error if any."""
    remotes = _remotes(repo)
    if not remotes:
        return "the repository has no remote to fetch it from"
    remote, _, branch = ref.partition("/")
    if remote not in remotes or not branch:
        remote, branch = ("origin" if "origin" in remotes else remotes[0]), ref
    is_sha = len(branch) >= 7 and all(c in "0123456789abcdef" for c in branch.lower())
    if branch.startswith("refs/") or is_sha:
        spec = branch
    else:
        spec = f"+refs/heads/{branch}:refs/remotes/{remote}/{branch}"
    proc = git(repo, "fetch", "--no-tags", "--quiet", remote, spec, check=False)
    if proc.returncode != 0:
        lines = [line for line in proc.stderr.strip().splitlines() if line.strip()]
        return lines[-1] if lines else f"git fetch exited {proc.returncode}"
    return None


def _merge_base(repo: Path, a: str, b: str) -> str | None:
    proc = git(repo, "merge-base", a, b, check=False)
    return proc.stdout.strip() if proc.returncode == 0 and proc.stdout.strip() else None


def resolve_base(repo: Path, ref: str, use_merge_base: bool = True) -> BaseRef:
    """The commit to compare the working tree against, fetching history a shallow clone lacks."""
    head = _commit_of(repo, "HEAD")
    if head is None:
        raise UserError("the repository has no commits yet: there is no history to compare against")
    check_revision(ref)
    tip = _commit_of(repo, ref)
    if tip is None:
        fetch_error = _fetch_ref(repo, ref)
        tip = _commit_of(repo, ref)
        if tip is None and "/" not in ref:  # `main` fetched into refs/remotes/origin/main
            for remote in _remotes(repo):
                tip = _commit_of(repo, f"{remote}/{ref}")
                if tip:
                    break
        if tip is None:
            why = f" (fetch failed: {fetch_error})" if fetch_error else ""
            raise UserError(f"base ref {ref!r} not found: no such branch, tag or commit{why}")
    dirty = bool(git(repo, "status", "--porcelain", "--untracked-files=normal", check=False).stdout.strip())
    if not use_merge_base:
        return BaseRef(ref, tip, tip, False, None, head, dirty)
    base = _merge_base(repo, tip, head)
    if base is None and _is_shallow(repo):
        for depth in DEEPEN_STEPS:
            if git(repo, "fetch", "--no-tags", "--quiet", f"--deepen={depth}", check=False).returncode != 0:
                break
            base = _merge_base(repo, tip, head)
            if base:
                break
        if base is None and _is_shallow(repo):
            proc = git(repo, "fetch", "--no-tags", "--quiet", "--unshallow", check=False)
            if proc.returncode != 0 and _is_shallow(repo):
                raise UserError(
                    f"shallow clone: cannot fetch the history between {ref!r} and HEAD "
                    f"(git fetch --unshallow failed); fetch it, or pass --no-merge-base"
                )
            base = _merge_base(repo, tip, head)
    if base is None:
        note = f"{ref} and HEAD share no history: compared against the tip of {ref}"
        return BaseRef(ref, tip, tip, False, note, head, dirty)
    return BaseRef(ref, tip, base, True, None, head, dirty)


def materialise(repo: Path, commit: str, dest: Path, folders: tuple[str, ...]) -> None:
    """Write ``folders`` of ``commit`` into ``dest`` (``git archive`` extracted in-process)."""
    present = set(git(repo, "ls-tree", "--name-only", commit).stdout.split())
    wanted = [name for name in folders if name in present]
    dest.mkdir(parents=True, exist_ok=True)
    if not wanted:
        return
    data = git(repo, "archive", "--format=tar", commit, "--", *wanted, binary=True).stdout
    try:
        with tarfile.open(fileobj=io.BytesIO(data)) as tar:
            tar.extractall(dest, filter="data")
    except (tarfile.TarError, OSError) as err:  # FilterError: absolute or escaping links, devices
        raise UserError(f"base commit {commit[:10]}: cannot check out its files: {err}") from None


def tool_origin(repo: Path) -> dict:
    """Which ``tracebit-pack`` is running, for the report's header: ``{"root", "commit",
    "is_head"}`` (``is_head``: it is the reviewed working tree's own code; ``commit``: the
    commit of its checkout, None when it is not one, e.g. installed from a wheel)."""
    import tracebit_pack

    root = Path(tracebit_pack.__file__).resolve().parent.parent
    proc = git(root, "rev-parse", "--show-toplevel", "HEAD", check=False)
    lines = proc.stdout.split() if proc.returncode == 0 else []
    top = Path(lines[0]).resolve() if lines else None
    return {
        "root": str(top or root),
        "commit": lines[1] if len(lines) > 1 else None,
        "is_head": top == Path(repo).resolve(),
    }
