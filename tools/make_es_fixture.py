#!/usr/bin/env python3
"""Generate the Spanish example call and script: fixtures/calls_es/ and fixtures/scripts_es/.

    python tools/make_es_fixture.py

One short mono call (16 kHz MP3, espeak-ng Spanish voices for agent and customer) that exercises a
non-English script end to end: the multilingual model (`--model base --language es`) and the
matcher's Spanish normalisation. Reuses the synthesis helpers of tools/make_fixtures.py (same
noise floor, trimming and MP3 settings); needs espeak-ng, sox and ffmpeg on PATH.

Writes:
    fixtures/calls_es/es-01.mp3             the recording
    fixtures/calls_es/es-01.timeline.json   every utterance: speaker, text, start_s, end_s, item
    fixtures/calls_es/expected.json         per item: the verdict the dialogue was written to produce
    fixtures/calls_es/manifest.csv          with script_id atencion-cliente
    fixtures/scripts_es/atencion-cliente.yaml
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import make_fixtures as mf  # noqa: E402  (helpers only; its voices are replaced below)

ROOT = mf.ROOT
CALLS_DIR = ROOT / "fixtures" / "calls_es"
SCRIPTS_DIR = ROOT / "fixtures" / "scripts_es"

AGENT_VOICE = ("es", 130)  # Spanish (Spain); base recognises it best of the espeak-ng es voices
CUSTOMER_VOICE = ("es-419+f4", 145)  # Latin American Spanish, female: a voice diarization tells apart

SCRIPT = """\
# Spanish customer-service script: the example of a non-English script (language: es).
# Transcribed with the multilingual model: qa run ... --model base --language es
id: atencion-cliente
version: "1"
name: Sol Energía - atención al cliente
language: es
variables:
  company: Sol Energía
sections:
  - id: apertura
    items:
      - id: saludo
        text: "Gracias por llamar a {company}, le atiende {agent_name}."
        alternatives:
          - "Buenos días, {company}, le atiende {agent_name}."
        weight: 10
        within_seconds: 30
      - id: aviso_grabacion
        text: "Le informamos de que esta llamada se graba por motivos de calidad."
        weight: 20
        critical: true
  - id: cierre
    items:
      - id: algo_mas
        text: "¿Hay algo más en lo que pueda ayudarle?"
        weight: 10
      - id: despedida
        text: "Gracias por llamar a {company}, que tenga un buen día."
        weight: 10
prohibited:
  - id: descortesia
    phrases:
      - "no es mi problema"
    weight: 10
    critical: true
"""

CALL = mf.Call(
    name="es-01",
    fmt="mp3",
    rate=16000,
    channels="mono",
    call_id="es-01",
    agent_id="agent-301",
    agent_name="Lucía",
    team="sol-madrid",
    script_id="atencion-cliente",
    started_at="2026-11-06T10:00:00Z",
    queue="facturas",
    purpose=("Spanish mono call (base model, language es): greeting and recording notice in approved "
             "wording, the agent says 'no es mi problema' (critical prohibited: fails), never asks "
             "whether there is anything else (missed), farewell in approved wording."),
    turns=[
        mf.A("Gracias por llamar a Sol Energía, le atiende Lucía.", item="saludo"),
        mf.C("Hola, buenos días."),
        mf.A("Le informamos de que esta llamada se graba por motivos de calidad.",
             item="aviso_grabacion"),
        mf.C("Hola. Mi factura de este mes es muy alta."),
        mf.A("Lo siento, pero eso no es mi problema.", item="prohibited:descortesia"),
        mf.A("Gracias por llamar a Sol Energía, que tenga un buen día.", pause=1.0, item="despedida"),
    ],
    verdicts={
        "saludo": mf.MET,
        "aviso_grabacion": mf.MET,
        "algo_mas": mf.Verdict("missed"),
        "despedida": mf.MET,
        "prohibited:descortesia": mf.Verdict("violated"),
    },
    seed=301,
)


def main() -> int:
    for tool in ("espeak-ng", "sox", "ffmpeg"):
        if mf.shutil.which(tool) is None:
            raise SystemExit(f"{tool} not found on PATH (apt-get install espeak-ng sox libsox-fmt-mp3 ffmpeg)")
    mf.AGENT_VOICE, mf.CUSTOMER_VOICE = AGENT_VOICE, CUSTOMER_VOICE  # synthesise() reads these
    CALLS_DIR.mkdir(parents=True, exist_ok=True)
    SCRIPTS_DIR.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        timeline = mf.build_call(CALL, CALLS_DIR, Path(tmp))
    entry = mf.expected_entry(CALL, timeline)
    (CALLS_DIR / "expected.json").write_text(json.dumps([entry], indent=1, ensure_ascii=False) + "\n",
                                             encoding="utf-8")
    # build_call wrote the timeline with ASCII escapes; rewrite it readable.
    (CALLS_DIR / f"{CALL.name}.timeline.json").write_text(
        json.dumps(timeline, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    mf.write_manifest(CALLS_DIR / "manifest.csv", [{
        "file": CALL.file, "call_id": CALL.call_id, "agent_id": CALL.agent_id, "agent_name": CALL.agent_name,
        "team": CALL.team, "script_id": CALL.script_id, "started_at": CALL.started_at,
        "channels": CALL.channels, "queue": CALL.queue}])
    (SCRIPTS_DIR / "atencion-cliente.yaml").write_text(SCRIPT, encoding="utf-8")
    print(f"  {CALL.file}: {entry['duration_s']:.1f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
