"""Both builds of the mini-program from the same source, and the WeChat one is a valid package:
app.json lists every page, each page has its four files, the main package is under WeChat's 2 MB
limit. Also: the words the client shares with the backend are generated from it, not copied."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import MINIAPP, build_miniapp

pytestmark = pytest.mark.browser
MAIN_PACKAGE_LIMIT = 2 * 1024 * 1024  # WeChat's limit for the main package
PAGE_FILES = (".js", ".json", ".wxml", ".wxss")
PAGES = [
    "pages/index/index",
    "pages/chart/index",
    "pages/waiting/index",
    "pages/result/index",
    "pages/poster/index",
    "pages/history/index",
    "pages/privacy/index",
    "pages/shared/index",
]


@pytest.fixture(scope="module")
def weapp_dir() -> Path:
    build_miniapp("weapp")
    return MINIAPP / "dist" / "weapp"


def package_size(directory: Path) -> int:
    """Bytes WeChat uploads: every file of the package but source maps."""
    return sum(p.stat().st_size for p in directory.rglob("*") if p.is_file() and p.suffix != ".map")


def test_the_weapp_build_is_a_valid_mini_program(weapp_dir: Path) -> None:
    app = json.loads((weapp_dir / "app.json").read_text(encoding="utf-8"))
    assert app["pages"] == PAGES
    assert app["pages"][0] == "pages/index/index"  # the start page
    for name in ("app.js", "app.wxss", "base.wxml"):
        assert (weapp_dir / name).is_file(), name
    for page in app["pages"]:
        for suffix in PAGE_FILES:
            path = weapp_dir / f"{page}{suffix}"
            assert path.is_file() and path.stat().st_size > 0, f"{page}{suffix} is missing or empty"
        config = json.loads((weapp_dir / f"{page}.json").read_text(encoding="utf-8"))
        assert config["navigationBarTitleText"]
    # the share card: Taro turns the page config's enableShareAppMessage into the page's code
    assert "enableShareAppMessage" in (weapp_dir / "pages/result/index.js").read_text(
        encoding="utf-8"
    )
    assert "animation" not in app  # an H5-only setting, not a WeChat app.json key
    # privacy: WeChat's privacy APIs on; WeChat search may index the start page and the policy only
    assert app["__usePrivacyCheck__"] is True and app["sitemapLocation"] == "sitemap.json"
    sitemap = json.loads((weapp_dir / "sitemap.json").read_text(encoding="utf-8"))
    assert sitemap["rules"][-1] == {"action": "disallow", "page": "*"}
    allowed = {rule["page"] for rule in sitemap["rules"] if rule["action"] == "allow"}
    assert allowed == {"pages/index/index", "pages/privacy/index"}
    assert "subpackages" not in app and "subPackages" not in app
    size = package_size(weapp_dir)
    assert size < MAIN_PACKAGE_LIMIT, f"main package is {size} bytes"


def test_the_weapp_build_has_no_syntax_old_phones_cannot_parse(weapp_dir: Path) -> None:
    """Old iOS WeChat (JavaScriptCore before iOS 13.4) fails on `??` and `?.`; DevTools does
    not downlevel them with `es6: false`, so the build must not emit them (babel.config.js)."""
    newer = re.compile(r"\?\?|\?\.[A-Za-z_$(\[]")
    found = {
        str(path.relative_to(weapp_dir)): len(newer.findall(path.read_text(encoding="utf-8")))
        for path in weapp_dir.rglob("*.js")
    }
    assert {name: count for name, count in found.items() if count} == {}


def taro_weapp(output: Path, **settings: str | None) -> subprocess.CompletedProcess[str]:
    """`taro build --type weapp` into `output` (never over dist/weapp, which build.sh's stamps
    describe), with `settings` on the environment (None: unset)."""
    env = {**os.environ, "TARO_ENV": "weapp", "TARO_APP_OUTPUT_ROOT": str(output)}
    for name, value in settings.items():
        env.pop(name, None)
        if value is not None:
            env[name] = value
    return subprocess.run(
        ["npx", "--no-install", "taro", "build", "--type", "weapp"],
        cwd=MINIAPP, env=env, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip


def test_a_release_build_needs_an_https_api(tmp_path: Path) -> None:
    """A release build (for a real phone) has no 127.0.0.1 default: without an https API base
    it stops before building anything, saying what to set."""
    for base in (None, "", "http://127.0.0.1:8080", "https://"):
        build = taro_weapp(tmp_path / "out", TARO_APP_RELEASE="1", TARO_APP_API_BASE=base)
        assert build.returncode != 0
        said = build.stdout + build.stderr
        assert "needs TARO_APP_API_BASE=https://" in said
        assert "no 127.0.0.1 default in a release build" in said
        assert not (tmp_path / "out" / "app.js").exists()
    # a release flag that is neither 1 nor 0 is refused, not taken for a development build
    build = taro_weapp(tmp_path / "out", TARO_APP_RELEASE="true", TARO_APP_API_BASE=None)
    assert build.returncode != 0
    assert "TARO_APP_RELEASE is 1" in build.stdout + build.stderr


def test_a_release_build_talks_to_its_configured_api_only(tmp_path: Path) -> None:
    out = tmp_path / "release"
    build = taro_weapp(out, TARO_APP_RELEASE="1", TARO_APP_API_BASE="https://api.example.test/")
    assert build.returncode == 0, build.stdout + build.stderr
    code = "".join(p.read_text(encoding="utf-8") for p in out.rglob("*.js"))
    assert '"https://api.example.test"' in code
    assert "127.0.0.1" not in code
    assert (out / "sitemap.json").is_file()


def test_the_weapp_build_talks_to_the_configured_api(weapp_dir: Path) -> None:
    code = "".join(p.read_text(encoding="utf-8") for p in weapp_dir.rglob("*.js"))
    assert "http://127.0.0.1:8080" in code  # TARO_APP_API_BASE's default for WeChat


def test_the_h5_build_is_served_from_app(h5_dir: Path) -> None:
    index = (h5_dir / "index.html").read_text(encoding="utf-8")
    assert '<div id="app">' in index
    scripts = [
        line for line in index.split('"') if line.startswith("/app/js/") and line.endswith(".js")
    ]
    assert scripts, "index.html loads no script from /app/js/"
    for script in scripts:
        assert (h5_dir / script.removeprefix("/app/")).is_file(), script


def test_generated_tables_match_the_backend() -> None:
    check = subprocess.run(
        [sys.executable, str(MINIAPP / "scripts/gen_tables.py"), "--check"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert check.returncode == 0, check.stderr
