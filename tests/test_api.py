import subprocess
import sys

import qa_analyser


def test_public_api_names_resolve():
    for name in qa_analyser.__all__:
        assert getattr(qa_analyser, name) is not None, name


def test_importing_the_package_loads_no_heavy_dependency():
    code = ("import sys, qa_analyser, qa_analyser.cli; "
            "print(sorted(m for m in ('faster_whisper', 'ctranslate2', 'spacy', 'av') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
