"""vocabulary.py: the script's words for biasing the recogniser (pure, no model)."""

from __future__ import annotations

from pathlib import Path

from qa_analyser.datatypes import Item, ProhibitedRule, Script, Section
from qa_analyser.scripts import load_script
from qa_analyser.vocabulary import script_vocabulary

ROOT = Path(__file__).resolve().parents[1]


def script(*items: Item, language: str = "en", prohibited=(), variables=(("company", "Greenfield Energy"),)) -> Script:
    return Script(id="s", version="1", name="S", sections=(Section("main", tuple(items)),),
                  prohibited=tuple(prohibited), language=language, variables=variables)


def test_variables_first_then_distinctive_words_in_order() -> None:
    s = script(Item("greeting", "main", "Thank you for calling {company}, my name is {agent_name}."),
               Item("notice", "main", "Please be aware that this call is recorded for quality and training purposes."))
    assert script_vocabulary(s) == ("Greenfield Energy, thank, calling, name, aware, call, recorded, quality, "
                                    "training, purposes")


def test_alternatives_count_and_words_appear_once() -> None:
    s = script(Item("farewell", "main", "Thank you for calling {company}.",
                    alternatives=("Thanks for calling {company}, goodbye.",)))
    assert script_vocabulary(s) == "Greenfield Energy, thank, calling, thanks, goodbye"


def test_prohibited_and_trigger_phrases_are_left_out_unless_asked() -> None:
    s = script(Item("offer", "main", "I can offer a loyalty discount.", when_customer_says=("cancel my account",)),
               prohibited=[ProhibitedRule("rude", ("calm down",))])
    assert script_vocabulary(s) == "Greenfield Energy, offer, loyalty, discount"
    both = script_vocabulary(s, include_prohibited=True, include_triggers=True)
    assert "cancel" in both and "account" in both and "calm" in both and "down" in both


def test_cut_on_a_term_boundary() -> None:
    s = script(Item("notice", "main", "Please be aware that this call is recorded for quality and training purposes."))
    short = script_vocabulary(s, max_chars=40)
    assert len(short) <= 40 and short == "Greenfield Energy, aware, call, recorded"
    assert script_vocabulary(s, max_chars=5) == ""


def test_names_inside_a_sentence_keep_their_capital() -> None:
    s = script(Item("intro", "main", "Welcome. You are through to the Northway branch."), variables=())
    assert script_vocabulary(s) == "welcome, through, Northway, branch"


def test_spanish_script_uses_spanish_function_words() -> None:
    s = load_script(ROOT / "fixtures" / "scripts_es" / "atencion-cliente.yaml")
    vocab = script_vocabulary(s)
    assert vocab.startswith("Sol Energía, gracias, llamar, atiende")
    terms = vocab.split(", ")
    assert "informamos" in terms and "calidad" in terms
    assert not {"para", "esta", "hay", "problema"} & set(terms)  # function words; prohibited phrase


def test_bundled_scripts_fit_whispers_prompt() -> None:
    for path in sorted((ROOT / "scripts_library").glob("*.yaml")):
        vocab = script_vocabulary(load_script(path))
        assert 0 < len(vocab) <= 200, path
