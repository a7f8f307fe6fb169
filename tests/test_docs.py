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
        if page.name == "index.rst":
            continue
        assert parser.get_examples(page.read_text()), f"{page.name} has no runnable example"
