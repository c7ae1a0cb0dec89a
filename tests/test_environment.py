"""environment.yml (conda) and pyproject.toml must pin the same things (conda is not installed here)."""

import tomllib
from pathlib import Path

import yaml
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parent.parent


def _key(req: Requirement) -> tuple[str, str]:
    return req.name.lower().replace("_", "-"), str(req.marker or "")


def _pyproject() -> dict[tuple[str, str], Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = project["optional-dependencies"]
    reqs = [*project["dependencies"], *extras["dev"], *extras["gguf"]]
    return {_key(r): r for r in map(Requirement, reqs)}


def _environment() -> tuple[list[Requirement], list[str]]:
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    conda = [d for d in env["dependencies"] if isinstance(d, str)]
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    reqs = [Requirement(d) for d in conda if not d.startswith(("python=", "pip"))]
    reqs += [Requirement(d) for d in pip if not d.startswith("-e")]
    return reqs, pip


def test_every_environment_pin_agrees_with_pyproject():
    py = _pyproject()
    reqs, _ = _environment()
    for r in reqs:
        assert _key(r) in py, f"{r} is in environment.yml but not in pyproject.toml"
        assert r.specifier == py[_key(r)].specifier, f"{r.name}: {r.specifier} vs {py[_key(r)].specifier}"
        assert r.extras == py[_key(r)].extras, f"{r.name}: extras differ"


def test_every_pyproject_dependency_is_in_the_environment():
    env = {_key(r) for r in _environment()[0]}
    missing = [str(r) for k, r in _pyproject().items() if k not in env]
    assert not missing, f"add to environment.yml: {missing}"


def test_environment_installs_the_package_and_python_311():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    assert "python=3.11" in env["dependencies"]
    assert any(p.startswith("-e .") for p in _environment()[1])


def test_torch_is_a_range_and_mlx_markers_cover_linux_and_apple_silicon():
    py = _pyproject()
    torch = py[("torch", "")]
    assert str(torch.specifier).startswith(">=") and "2.13.0" in torch.specifier
    mlx = {k: r for k, r in py.items() if k[0] == "mlx"}
    linux = {"sys_platform": "linux", "platform_machine": "x86_64"}
    mac = {"sys_platform": "darwin", "platform_machine": "arm64"}
    intel_mac = {"sys_platform": "darwin", "platform_machine": "x86_64"}
    assert [r.extras for r in mlx.values() if r.marker.evaluate(linux)] == [{"cpu"}]
    assert [r.extras for r in mlx.values() if r.marker.evaluate(mac)] == [set()]
    assert not [r for r in mlx.values() if r.marker.evaluate(intel_mac)]
    assert py[("mlx-lm", str(py_marker := next(k[1] for k in py if k[0] == "mlx-lm")))].marker.evaluate(linux)
    assert Requirement(f"mlx-lm; {py_marker}").marker.evaluate(mac)


def test_the_makefile_builds_the_pinned_llama_cpp_python():
    """`make test` (and `make gguf`) build llama-cpp-python once into a wheel cache: pyproject's pinned version."""
    pin = next(r for k, r in _pyproject().items() if k[0] == "llama-cpp-python")
    makefile = (ROOT / "Makefile").read_text()
    version = next(
        line.split(":=")[1].strip() for line in makefile.splitlines() if line.startswith("LLAMA_CPP_VERSION")
    )
    assert str(pin.specifier) == f"=={version}" and pin.extras == {"server"}
    assert "$(MAKE) --no-print-directory gguf" in makefile.split("\ntest: setup\n")[1].split("\n\n")[0], (
        "make test installs the extra"
    )
