"""Every ``>>>`` example in docs/ and README.md runs and gives the output shown."""
import doctest
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PAGES = sorted((ROOT / "docs").glob("*.rst")) + [ROOT / "README.md"]


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_examples_in_page(page):
    result = doctest.testfile(
        str(page), module_relative=False, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
    )
    assert result.failed == 0, f"{result.failed} example(s) failed in {page.name}"


def test_pages_have_examples():
    parser = doctest.DocTestParser()
    for page in PAGES:
        if page.name in {"index.rst", "api.rst", "supported.rst"}:  # no prose examples there
            continue
        assert parser.get_examples(page.read_text()), f"{page.name} has no runnable example"


def test_sphinx_site_builds_without_warnings(tmp_path):
    sphinx_cmd = pytest.importorskip("sphinx.cmd.build", reason="sphinx is in the test extra")
    status = sphinx_cmd.build_main(["-W", "--keep-going", "-q", "-b", "html", str(ROOT / "docs"), str(tmp_path)])
    assert status == 0
    page = (tmp_path / "supported.html").read_text()
    # the table is generated from the mapping: a mapped class and a printer method appear
    assert "acot" in page and "Piecewise" in page
